import { Type, type Static } from '@sinclair/typebox';
import { DeviceTransaction, ErrorBody, MemberSnapshot } from '../../shared/contract/payloads.ts';

/**
 * The kiosk's money path: the outbox of transactions the hub has not acknowledged yet (and recently settled
 * ones), the device sequence counter, and the cash acceptance state. It changes only by journal records
 * (`OutboxRecord`), applied by `applyRecord` — the same function live and when the journal is replayed at
 * start, so what the kiosk did and what it finds after a restart cannot drift apart.
 */
export const OutboxEntry = Type.Object({
  tx: DeviceTransaction,
  state: Type.Union([Type.Literal('pending'), Type.Literal('synced'), Type.Literal('rejected')]),
  settledAt: Type.Optional(Type.String()),
  error: Type.Optional(ErrorBody),
});
export type OutboxEntry = Static<typeof OutboxEntry>;

/**
 * How a session's bills are priced, fixed by its first bill: the program rules version and the instant. Every
 * later bill of the session uses them too, so a bracket shown ("再投¥100可送50") still holds when the rules
 * change or a campaign window closes while the member is feeding notes.
 */
const SessionPricing = Type.Object({ rulesVersion: Type.Integer({ minimum: 1 }), occurredAt: Type.String() });

export const CashSession = Type.Object({
  member: MemberSnapshot,
  openedAt: Type.String(),
  /** Cash credited in this session so far (absent in files written before sessions were priced: 0). */
  creditedFen: Type.Optional(Type.Integer({ minimum: 0 })),
  pricing: Type.Optional(SessionPricing),
});
export type CashSession = Static<typeof CashSession>;

const BillEventCounter = Type.Integer({ minimum: 0, maximum: 255 });

/**
 * Cash acceptance survives a restart: the member the validator is taking bills for, and the validator's
 * event counter of the last bill credited, written in the same record as that credit. A bill stacked while
 * the kiosk was down is then credited once, to the right member, when it comes back.
 */
export const CashState = Type.Object({
  session: Type.Union([CashSession, Type.Null()]),
  lastBillEventCounter: Type.Union([BillEventCounter, Type.Null()]),
});
export type CashState = Static<typeof CashState>;

export interface OutboxState {
  nextSeq: number;
  outbox: OutboxEntry[];
  cash: CashState;
}

export const emptyCashState = (): CashState => ({ session: null, lastBillEventCounter: null });
export const emptyOutboxState = (): OutboxState => ({ nextSeq: 1, outbox: [], cash: emptyCashState() });

/** Settled entries are kept for reprints and audits, but only the most recent ones. */
const SETTLED_ENTRIES_KEPT = 500;

/** The whole state: a journal's first record, and all a compacted journal holds. */
const Snapshot = Type.Object({
  k: Type.Literal('snapshot'),
  nextSeq: Type.Integer({ minimum: 1 }),
  outbox: Type.Array(OutboxEntry),
  cash: CashState,
});
export type Snapshot = Static<typeof Snapshot>;

/** A cash top-up: its outbox entry, and the validator counter of the bill it credits — one record, one fsync. */
const TopUpRecorded = Type.Object({ k: Type.Literal('topup'), entry: OutboxEntry, billEventCounter: Type.Optional(BillEventCounter) });
const SessionOpened = Type.Object({ k: Type.Literal('session'), session: CashSession });
const BaselineSet = Type.Object({ k: Type.Literal('baseline'), counter: BillEventCounter });
/** The hub's ack of an entry, with the member snapshot it confirmed (for the member cache, see KioskStore). */
const EntrySettled = Type.Object({
  k: Type.Literal('settled'),
  txId: Type.String(),
  settledAt: Type.String(),
  state: Type.Union([Type.Literal('synced'), Type.Literal('rejected')]),
  error: Type.Optional(ErrorBody),
  member: Type.Optional(MemberSnapshot),
});

export const OutboxRecord = Type.Union([Snapshot, TopUpRecorded, SessionOpened, BaselineSet, EntrySettled]);
export type OutboxRecord = Static<typeof OutboxRecord>;

export function snapshotOf(state: OutboxState): Snapshot {
  return { k: 'snapshot', nextSeq: state.nextSeq, outbox: state.outbox, cash: state.cash };
}

export function applyRecord(state: OutboxState, record: OutboxRecord): void {
  switch (record.k) {
    case 'snapshot':
      state.nextSeq = record.nextSeq;
      state.outbox = record.outbox;
      state.cash = record.cash;
      return;
    case 'topup':
      return applyTopUp(state, record.entry, record.billEventCounter);
    case 'session':
      state.cash.session = record.session;
      return;
    case 'baseline':
      state.cash.lastBillEventCounter = record.counter;
      return;
    case 'settled': {
      const entry = state.outbox.find((candidate) => candidate.tx.txId === record.txId);
      if (!entry || entry.state !== 'pending') return;
      entry.state = record.state;
      entry.settledAt = record.settledAt;
      if (record.error) entry.error = record.error;
      trimSettled(state);
      return;
    }
  }
}

function applyTopUp(state: OutboxState, entry: OutboxEntry, billEventCounter: number | undefined): void {
  const { body } = entry.tx;
  state.outbox.push(entry);
  state.nextSeq = entry.tx.seq + 1;
  if (billEventCounter !== undefined) state.cash.lastBillEventCounter = billEventCounter;
  const session = state.cash.session;
  if (session && session.member.memberId === body.memberId) {
    session.creditedFen = (session.creditedFen ?? 0) + body.amountFen;
    // The first bill fixes the session's pricing; so does the first bill after newer rules arrived mid-session.
    const pricing = body.pricing;
    if (pricing && session.pricing?.rulesVersion !== pricing.rulesVersion) {
      session.pricing = { rulesVersion: pricing.rulesVersion, occurredAt: pricing.occurredAt };
    }
  }
}

function trimSettled(state: OutboxState): void {
  const settled = state.outbox.filter((entry) => entry.state !== 'pending');
  if (settled.length <= SETTLED_ENTRIES_KEPT) return;
  const drop = new Set(settled.slice(0, settled.length - SETTLED_ENTRIES_KEPT));
  state.outbox = state.outbox.filter((entry) => !drop.has(entry));
}
