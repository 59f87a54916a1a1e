import { createHash } from 'node:crypto';

/**
 * The name a parameterised statement is prepared under, on PostgreSQL and PGlite alike: the same text always gets
 * the same name, so a connection parses and plans it once and then only binds and executes it. Parameterless text
 * is sent unnamed (it may hold several statements, which a prepared statement cannot). A connection keeps what it
 * prepared, so the number of names is capped: text built with varying literals past the cap simply goes unnamed.
 */
const MAX_NAMED_STATEMENTS = 2000;
const statementNames = new Map<string, string>();

export function statementName(sql: string): string | undefined {
  let name = statementNames.get(sql);
  if (name === undefined && statementNames.size < MAX_NAMED_STATEMENTS) {
    name = `s_${createHash('sha1').update(sql).digest('hex').slice(0, 20)}`;
    statementNames.set(sql, name);
  }
  return name;
}
