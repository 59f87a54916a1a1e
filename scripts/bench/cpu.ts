import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { withClient } from './server-client.ts';

/**
 * CPU time of the processes a benchmark runs, from /proc: on this 2-core machine the hub, the database and the
 * simulated kiosks share the same cores, so CPU per transaction is what says how far a rate could go and which
 * process limits it (a wall-clock rate only says how far it went).
 */

/** /proc reports CPU time in USER_HZ ticks, which Linux fixes at 100 per second for user space. */
const USER_HZ = 100;

interface ProcessTimes {
  ppid: number;
  /** User + system time of the process itself. */
  ownMs: number;
  /** User + system time of its children that ended and were reaped. */
  reapedChildrenMs: number;
}

/** A process's CPU times; undefined when it is gone. */
export async function processTimes(pid: number): Promise<ProcessTimes | undefined> {
  let stat: string;
  try {
    stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // it ended meanwhile
  }
  return timesOf(stat);
}

/** The CPU times in a line of /proc/PID/stat. */
export function timesOf(statLine: string): ProcessTimes {
  // Fields after the parenthesised command name: ppid is the 2nd, utime, stime, cutime and cstime the 12th to 15th.
  const fields = statLine.slice(statLine.lastIndexOf(') ') + 2).split(' ');
  const ms = (ticks: number) => (ticks * 1000) / USER_HZ;
  return {
    ppid: Number(fields[1]),
    ownMs: ms(Number(fields[11]) + Number(fields[12])),
    reapedChildrenMs: ms(Number(fields[13]) + Number(fields[14])),
  };
}

/**
 * CPU time a PostgreSQL server has used so far: the postmaster, its live processes (backends, WAL writer,
 * checkpointer…) and those that ended (counted into the postmaster's children time once it has reaped them). A
 * backend reaped while its siblings are being read would be in neither sum (read as a child before it ended, it
 * would be in both), so the reading is taken again until the postmaster reaped nothing in the middle of it: just
 * after pgbench's clients disconnect, the first reading missed up to nine tenths of the server's time.
 */
export async function postgresCpuMs(postmasterPid: number): Promise<number> {
  for (;;) {
    const before = await processTimes(postmasterPid);
    if (!before) throw new Error(`PostgreSQL postmaster ${postmasterPid} is gone`);
    let children = 0;
    for (const entry of await readdir('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const child = await processTimes(Number(entry));
      if (child?.ppid === postmasterPid) children += child.ownMs;
    }
    const after = await processTimes(postmasterPid);
    if (after?.reapedChildrenMs === before.reapedChildrenMs) return after.ownMs + after.reapedChildrenMs + children;
  }
}

/** The postmaster's pid of the server at `url` (the first line of postmaster.pid in its data directory). */
export async function postmasterPidOf(url: string): Promise<number> {
  const { rows } = await withClient(url, (client) => client.query<{ setting: string }>("SELECT setting FROM pg_settings WHERE name = 'data_directory'"));
  return Number((await readFile(join(rows[0]!.setting, 'postmaster.pid'), 'utf8')).split('\n')[0]);
}

/** This process's own CPU time so far (the simulated kiosks, the bench's clients). */
export function ownCpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** µs per item, for a metric's text. */
export const microsEach = (ms: number, items: number): number => Math.round((ms * 1000) / items);
