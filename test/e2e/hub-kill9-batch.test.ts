import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bindCard } from '../../cloud/cards/index.ts';
import { openDatabase, type Database } from '../../cloud/db/database.ts';
import { topics } from '../../shared/contract/topics.ts';
import type { DeviceTransaction, MemberSnapshot, TxAck } from '../../shared/contract/payloads.ts';
import { newId } from '../../shared/ids.ts';
import { testLedger, useDatabases } from '../cloud/support.ts';
import { waitFor } from '../helpers/events.ts';
import { RecordingClient } from '../helpers/hub.ts';
import { hubDataDir, spawnHub, type HubProcess } from '../helpers/hub-process.ts';

const DEVICE = 'kiosk-kill9-batch';

/**
 * The hub as its own process on PostgreSQL, killed with SIGKILL in the middle of a batch of device transactions:
 * the batch has written its postings and waits (on a lock this test holds) to advance the device's sequence mark. What
 * was acknowledged before is posted once; nothing of the killed batch is posted, and once the kiosk sends its
 * unacknowledged transactions again to the restarted hub each is posted once, and a resent acknowledged one is a
 * replay.
 */
describe('the hub killed with SIGKILL in the middle of a batch of device transactions', () => {
  const databases = useDatabases();
  let databaseUrl: string;
  let db: Database;
  let member: MemberSnapshot;
  let dataDir: Awaited<ReturnType<typeof hubDataDir>>;
  let hub: HubProcess | undefined;
  let device: RecordingClient | undefined;

  const topUp = (seq: number): DeviceTransaction => ({
    v: 1,
    txId: newId(),
    deviceId: DEVICE,
    seq,
    createdAt: new Date().toISOString(),
    body: { kind: 'cash_topup', memberId: member.memberId, cardUid: member.cardUid, amountFen: 100 * seq, currency: 'CNY' },
  });

  async function connectDevice(): Promise<RecordingClient> {
    const client = await RecordingClient.connect(hub!.mqttUrl, DEVICE);
    await client.client.subscribeAsync(topics.txAck(DEVICE), { qos: 1 });
    return client;
  }

  const send = (txs: DeviceTransaction[]) => Promise.all(txs.map((tx) => device!.client.publishAsync(topics.tx(DEVICE), JSON.stringify(tx), { qos: 1 })));

  /** How often each transaction is in the ledger. */
  async function postedTimes(txs: DeviceTransaction[]): Promise<number[]> {
    const { rows } = await db.query<{ key: string; n: number }>(
      'SELECT idempotency_key AS key, count(*)::int AS n FROM ledger_transactions WHERE idempotency_key = ANY($1::text[]) GROUP BY idempotency_key',
      [txs.map((tx) => tx.txId)],
    );
    const times = new Map(rows.map((row) => [row.key, row.n]));
    return txs.map((tx) => times.get(tx.txId) ?? 0);
  }

  beforeAll(async () => {
    databaseUrl = await databases.postgresUrl();
    db = await openDatabase({ url: databaseUrl });
    const ledger = await testLedger(db);
    const operator = { type: 'operator' as const, id: 'test' };
    const created = await ledger.createMember({ name: '周九', actor: operator });
    member = (await bindCard(db, ledger, { memberId: created.memberId, cardUid: '04CAFE99', actor: operator })).member;
    dataDir = await hubDataDir();
    hub = await spawnHub(databaseUrl, dataDir.path);
    device = await connectDevice();
  }, 120_000);

  afterAll(async () => {
    await device?.close();
    await hub?.stop();
    await db?.close();
    await dataDir?.remove();
  });

  it('acked: posted once; unacked: nothing of the killed batch, then posted once when resent', async () => {
    const txs = Array.from({ length: 8 }, (_, i) => topUp(i + 1));
    const acked = txs.slice(0, 3);
    const unacked = txs.slice(3);
    await send(acked);
    expect((await device!.waitFor<TxAck>(topics.txAck(DEVICE), 3, 30_000)).map((ack) => ack.status)).toEqual(['ok', 'ok', 'ok']);

    // Advancing the device's sequence mark is the last step of a batch: its UPDATE of device_sync waits on this lock,
    // the batch's postings written.
    const holder = new pg.Client({ connectionString: databaseUrl });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE device_sync IN SHARE MODE');
      await send(unacked);
      const blocked = await waitFor(
        async () => {
          const { rows } = await db.query<{ pid: number }>(
            `SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND state = 'active' AND query LIKE '%UPDATE device_sync%'`,
          );
          return rows[0]?.pid;
        },
        { timeoutMs: 60_000, what: "the hub's batch to wait on the test's lock while settling" },
      );
      await hub!.kill9();
      await holder.query('ROLLBACK');
      await waitFor(
        async () => {
          const { rows } = await db.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [blocked]);
          return rows.length === 0 || undefined;
        },
        { timeoutMs: 60_000, what: "the killed hub's database session to end" },
      );
    } finally {
      await holder.end();
    }
    expect(device!.messages.filter((m) => m.topic === topics.txAck(DEVICE))).toHaveLength(3);
    expect(await postedTimes(acked)).toEqual([1, 1, 1]);
    expect(await postedTimes(unacked)).toEqual([0, 0, 0, 0, 0]);

    // The kiosk reconnects to the restarted hub and sends what it holds no ack for — and, say, one it lost the ack of.
    await device!.client.endAsync(true);
    hub = await spawnHub(databaseUrl, dataDir.path);
    device = await connectDevice();
    await send([...unacked, acked[2]!]);
    const acks = await device.waitFor<TxAck>(topics.txAck(DEVICE), 6, 30_000);
    const byTx = new Map(acks.map((ack) => [ack.txId, ack]));
    for (const tx of unacked) expect(byTx.get(tx.txId)).toMatchObject({ status: 'ok', replay: false });
    expect(byTx.get(acked[2]!.txId)).toMatchObject({ status: 'ok', replay: true });
    expect(await postedTimes(txs)).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
    const { rows } = await db.query<{ principal: number; contiguous: number }>(
      `SELECT (SELECT balance FROM accounts WHERE member_id = $1 AND kind = 'stored_principal') AS principal,
              (SELECT contiguous_seq FROM device_sync WHERE device_id = $2) AS contiguous`,
      [member.memberId, DEVICE],
    );
    expect(rows[0]).toEqual({ principal: 100 * (1 + 2 + 3 + 4 + 5 + 6 + 7 + 8), contiguous: 8 });
  }, 240_000);
});
