import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../cloud/db/database.ts';
import { applyMigrations } from '../../cloud/db/migrate.ts';
import { BACKENDS, key, newCardUid, useDatabases, testLedger } from './support.ts';
import { memberByCard, bindCard } from '../../cloud/cards/index.ts';

const databases = useDatabases();
const migrationFiles = (await readdir(new URL('../../cloud/db/migrations/', import.meta.url))).filter((f) => f.endsWith('.sql'));
const clerk = { type: 'operator', id: 'clerk-1' } as const;

async function appliedMigrations(db: Database) {
  return (await db.query<{ name: string; applied_at: Date }>('SELECT name, applied_at FROM schema_migrations ORDER BY version')).rows;
}

describe.each(BACKENDS)('migrations on %s', (backend) => {
  it('apply every migration once; running them again is a no-op', async () => {
    const db = await databases.open(backend);
    const first = await appliedMigrations(db);
    expect(first.map((m) => m.name)).toEqual(migrationFiles.sort());
    expect(await applyMigrations(db)).toEqual([]);
    expect(await appliedMigrations(db)).toEqual(first);
  });

  it('refuse to start when an applied migration file has changed', async () => {
    const db = await databases.open(backend);
    await db.query(`UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1`);
    await expect(applyMigrations(db)).rejects.toThrow(/was changed after it was applied/);
  });
});

describe('migrations on a shared PostgreSQL', () => {
  it('are applied exactly once when several hubs start at the same time', async () => {
    const url = await databases.postgresUrl();
    const hubs = await Promise.all(Array.from({ length: 4 }, () => openDatabase({ url })));
    try {
      expect((await appliedMigrations(hubs[0]!)).map((m) => m.name)).toEqual(migrationFiles.sort());
      expect(await applyMigrations(hubs[1]!)).toEqual([]);
    } finally {
      await Promise.all(hubs.map((db) => db.close()));
    }
  });
});

describe('PGlite data directory', () => {
  const dirs: string[] = [];
  afterAll(() => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));

  it('keeps members and balances across close and reopen, without re-running migrations', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'member-kiosk-pglite-'));
    dirs.push(dataDir);
    const cardUid = newCardUid();

    const first = await openDatabase({ dataDir });
    const ledger = await testLedger(first);
    const member = await ledger.createMember({ name: 'Persistent Pat', actor: clerk });
    await bindCard(first, ledger, { memberId: member.memberId, cardUid, actor: clerk });
    await ledger.topUpCash({ idempotencyKey: key(), memberId: member.memberId, amountFen: 8_800, actor: clerk });
    const migrated = await appliedMigrations(first);
    await first.close();

    const reopened = await openDatabase({ dataDir });
    try {
      expect(await appliedMigrations(reopened)).toEqual(migrated);
      expect(await memberByCard(reopened, (await testLedger(reopened)), cardUid)).toMatchObject({
        memberId: member.memberId,
        version: 2,
        balances: { principalFen: 8_800, bonusFen: 0, points: 0 },
      });
    } finally {
      await reopened.close();
    }
  });
});
