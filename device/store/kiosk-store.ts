import { Low } from 'lowdb';
import { Type, type Static } from '@sinclair/typebox';
import { newId } from '../../shared/ids.ts';
import { validate } from '../../shared/contract/decode.ts';
import {
  DeviceConfig,
  DeviceTransaction,
  ErrorBody,
  MemberSnapshot,
  type Balances,
  type TopUpPricing,
  type TxAck,
} from '../../shared/contract/payloads.ts';
import { programRuleProblems, type ProgramRules } from '../../shared/rules/program.ts';
import { DurableJSONFile } from './durable-json-file.ts';

/**
 * The kiosk's durable state: the outbox of transactions the hub has not acknowledged yet, the device
 * sequence counter, and the cached member snapshots that let the kiosk serve members offline.
 * Every mutation is on disk (fsync) before the promise resolves: nothing is "done" before that.
 */
const OutboxEntry = Type.Object({
  tx: DeviceTransaction,
  state: Type.Union([Type.Literal('pending'), Type.Literal('synced'), Type.Literal('rejected')]),
  settledAt: Type.Optional(Type.String()),
  error: Type.Optional(ErrorBody),
});
export type OutboxEntry = Static<typeof OutboxEntry>;

/**
 * Cash acceptance survives a restart: the member the validator is taking bills for, and the validator's
 * event counter of the last bill credited, written in the same durable write as that credit. A bill
 * stacked while the kiosk was down is then credited once, to the right member, when it comes back.
 */
/**
 * How a session's bills are priced, fixed by its first bill: the program rules version and the instant. Every
 * later bill of the session uses them too, so a bracket shown ("再投¥100可送50") still holds when the rules
 * change or a campaign window closes while the member is feeding notes.
 */
const SessionPricing = Type.Object({ rulesVersion: Type.Integer({ minimum: 1 }), occurredAt: Type.String() });

const CashSession = Type.Object({
  member: MemberSnapshot,
  openedAt: Type.String(),
  /** Cash credited in this session so far (absent in files written before sessions were priced: 0). */
  creditedFen: Type.Optional(Type.Integer({ minimum: 0 })),
  pricing: Type.Optional(SessionPricing),
});
export type CashSession = Static<typeof CashSession>;

const CashState = Type.Object({
  session: Type.Union([CashSession, Type.Null()]),
  lastBillEventCounter: Type.Union([Type.Integer({ minimum: 0, maximum: 255 }), Type.Null()]),
});
export type CashState = Static<typeof CashState>;

/** The hub's configuration this kiosk runs, with its version; null until the hub has sent one. */
const AppliedConfig = Type.Union([
  Type.Object({ version: Type.Integer({ minimum: 1 }), config: DeviceConfig, appliedAt: Type.String() }),
  Type.Null(),
]);
export type AppliedConfig = Static<typeof AppliedConfig>;

/**
 * The program rules this kiosk prices top-ups with, as published by the hub (version = the rules store's).
 * Kept on disk so they survive a restart and work offline; validated on every load like on arrival.
 */
const AppliedProgram = Type.Union([
  Type.Object({ version: Type.Integer({ minimum: 1 }), rules: Type.Record(Type.String(), Type.Unknown()), appliedAt: Type.String() }),
  Type.Null(),
]);
export type AppliedProgram = { version: number; rules: ProgramRules; appliedAt: string } | null;

const KioskData = Type.Object({
  v: Type.Literal(1),
  nextSeq: Type.Integer({ minimum: 1 }),
  outbox: Type.Array(OutboxEntry),
  members: Type.Record(Type.String(), MemberSnapshot),
  cash: CashState,
  config: AppliedConfig,
  program: AppliedProgram,
});
type KioskData = Static<typeof KioskData>;

const emptyCashState = (): CashState => ({ session: null, lastBillEventCounter: null });

/** Settled entries are kept for reprints and audits, but only the most recent ones. */
const SETTLED_ENTRIES_KEPT = 500;

export class InvalidKioskDataError extends Error {
  constructor(file: string, reason: string) {
    super(`kiosk data file ${file} does not have the expected shape (${reason}); it was left untouched`);
    this.name = 'InvalidKioskDataError';
  }
}

export interface NewCashTopUp {
  deviceId: string;
  member: MemberSnapshot;
  amountFen: number;
  /** The bill validator's counter for the stacked bill; stored with the credit so it is never credited twice. */
  billEventCounter?: number;
  /** When the cash was taken (default now); the transaction's createdAt. */
  at?: Date;
  /** The bonus the kiosk promised for it; the open cash session's total and pricing advance in the same write. */
  pricing?: TopUpPricing;
}

export class KioskStore {
  private constructor(private readonly db: Low<KioskData>) {}

  static async open(file: string): Promise<KioskStore> {
    const db = new Low<KioskData>(new DurableJSONFile(file), {
      v: 1,
      nextSeq: 1,
      outbox: [],
      members: {},
      cash: emptyCashState(),
      config: null,
      program: null,
    });
    await db.read();
    // Files written before cash state existed have none; they had no open cash session either.
    db.data.cash ??= emptyCashState();
    // Likewise for configuration: such a kiosk had never received one.
    db.data.config ??= null;
    // And for program rules: such a kiosk prices no bonus until the hub sends a rule set.
    db.data.program ??= null;
    const checked = validate(KioskData, db.data);
    if (!checked.ok) throw new InvalidKioskDataError(file, checked.reason);
    const ruleProblems = db.data.program ? programRuleProblems(db.data.program.rules) : [];
    if (ruleProblems.length > 0) throw new InvalidKioskDataError(file, `program rules: ${ruleProblems.join('; ')}`);
    return new KioskStore(db);
  }

  /** Records a cash top-up in the outbox and returns once it is durable on disk. */
  async recordCashTopUp({ deviceId, member, amountFen, billEventCounter, at, pricing }: NewCashTopUp): Promise<OutboxEntry> {
    const data = this.db.data;
    const entry: OutboxEntry = {
      state: 'pending',
      tx: {
        v: 1,
        txId: newId(),
        deviceId,
        seq: data.nextSeq,
        createdAt: (at ?? new Date()).toISOString(),
        body: {
          kind: 'cash_topup',
          memberId: member.memberId,
          cardUid: member.cardUid,
          amountFen,
          currency: 'CNY',
          ...(pricing ? { pricing } : {}),
        },
      },
    };
    data.nextSeq += 1;
    data.outbox.push(entry);
    if (billEventCounter !== undefined) data.cash.lastBillEventCounter = billEventCounter;
    const session = data.cash.session;
    if (session && session.member.memberId === member.memberId) {
      session.creditedFen = (session.creditedFen ?? 0) + amountFen;
      // The first bill fixes the session's pricing; so does the first bill after newer rules arrived mid-session.
      if (pricing && session.pricing?.rulesVersion !== pricing.rulesVersion) {
        session.pricing = { rulesVersion: pricing.rulesVersion, occurredAt: pricing.occurredAt };
      }
    }
    await this.db.write();
    return entry;
  }

  get cash(): CashState {
    return this.db.data.cash;
  }

  /** Durably names the member bills are credited to, before the validator is enabled for them. */
  async openCashSession(member: MemberSnapshot): Promise<void> {
    this.db.data.cash.session = { member, openedAt: new Date().toISOString() };
    await this.db.write();
  }

  /** First start with a validator: its current counter is the baseline, nothing before it is ours to credit. */
  async setBillEventBaseline(counter: number): Promise<void> {
    this.db.data.cash.lastBillEventCounter = counter;
    await this.db.write();
  }

  /** Unacknowledged transactions, oldest first: the order the hub must see them in. */
  pending(): OutboxEntry[] {
    return this.db.data.outbox.filter((entry) => entry.state === 'pending');
  }

  /**
   * The entries with sequence numbers `fromSeq`..`toSeq` the hub may still need, in sequence order: pending
   * ones, and synced ones too (the hub asking for a sequence it acknowledged means it lost it, and its
   * idempotency makes resending harmless). Rejected ones are final and never resent.
   */
  resendable(fromSeq: number, toSeq: number): OutboxEntry[] {
    return this.db.data.outbox
      .filter((entry) => entry.state !== 'rejected' && entry.tx.seq >= fromSeq && entry.tx.seq <= toSeq)
      .sort((a, b) => a.tx.seq - b.tx.seq);
  }

  entry(txId: string): OutboxEntry | undefined {
    return this.db.data.outbox.find((entry) => entry.tx.txId === txId);
  }

  /**
   * Settles an outbox entry from the hub's acknowledgement. Returns the entry when this ack changed it,
   * undefined for an unknown or already settled transaction (acks may arrive more than once).
   */
  async applyAck(ack: TxAck): Promise<OutboxEntry | undefined> {
    const entry = this.entry(ack.txId);
    if (!entry || entry.state !== 'pending') return undefined;
    entry.settledAt = new Date().toISOString();
    if (ack.status === 'ok') {
      entry.state = 'synced';
      this.putMember(ack.member);
    } else {
      entry.state = 'rejected';
      entry.error = ack.error;
    }
    this.trimSettled();
    await this.db.write();
    return entry;
  }

  get config(): AppliedConfig {
    return this.db.data.config;
  }

  /**
   * Makes `config` the applied configuration, durably, if `version` is newer than the applied one. Returns
   * false (changing nothing) for a version that is not newer: configuration never goes backwards.
   */
  async applyConfig(version: number, config: DeviceConfig): Promise<boolean> {
    const current = this.db.data.config;
    if (current && current.version >= version) return false;
    this.db.data.config = { version, config, appliedAt: new Date().toISOString() };
    await this.db.write();
    return true;
  }

  get program(): AppliedProgram {
    return this.db.data.program as AppliedProgram;
  }

  /**
   * Makes `rules` (already validated by the caller) the program in force, durably, if `version` is newer than
   * the applied one. Returns false (changing nothing) otherwise: rules never go backwards.
   */
  async applyProgram(version: number, rules: ProgramRules): Promise<boolean> {
    const current = this.db.data.program;
    if (current && current.version >= version) return false;
    this.db.data.program = { version, rules: rules as unknown as Record<string, unknown>, appliedAt: new Date().toISOString() };
    await this.db.write();
    return true;
  }

  /** Every card this kiosk can serve offline, for a cache refresh. */
  cachedCards(): string[] {
    return Object.keys(this.db.data.members);
  }

  cachedMember(cardUid: string): MemberSnapshot | undefined {
    return this.db.data.members[cardUid];
  }

  /** For a magnetic-stripe swipe while offline: the cache is keyed by UID, numbers are looked up by scan. */
  cachedMemberByNumber(cardNumber: string): MemberSnapshot | undefined {
    return Object.values(this.db.data.members).find((member) => member.cardNumber === cardNumber);
  }

  /** Caches a snapshot unless the cache already holds a newer version of that member; true when it did. */
  async cacheMember(snapshot: MemberSnapshot): Promise<boolean> {
    if (!this.putMember(snapshot)) return false;
    await this.db.write();
    return true;
  }

  /**
   * What the member should see: the hub's last word plus this kiosk's top-ups the hub has not confirmed yet —
   * principal, and the bonus and bonus points the kiosk promised with them.
   */
  displayBalances(snapshot: MemberSnapshot): Balances {
    const { principalFen, bonusFen, points } = snapshot.balances;
    return this.pending()
      .filter((entry) => entry.tx.body.memberId === snapshot.memberId)
      .reduce(
        (sum, { tx: { body } }) => ({
          principalFen: sum.principalFen + body.amountFen,
          bonusFen: sum.bonusFen + (body.pricing?.bonusFen ?? 0),
          points: sum.points + (body.pricing?.bonusPoints ?? 0),
        }),
        { principalFen, bonusFen, points },
      );
  }

  private putMember(snapshot: MemberSnapshot): boolean {
    const cached = this.db.data.members[snapshot.cardUid];
    if (cached && cached.memberId === snapshot.memberId && cached.version > snapshot.version) return false;
    this.db.data.members[snapshot.cardUid] = snapshot;
    return true;
  }

  private trimSettled(): void {
    const outbox = this.db.data.outbox;
    const settled = outbox.filter((entry) => entry.state !== 'pending');
    if (settled.length <= SETTLED_ENTRIES_KEPT) return;
    const drop = new Set(settled.slice(0, settled.length - SETTLED_ENTRIES_KEPT));
    this.db.data.outbox = outbox.filter((entry) => !drop.has(entry));
  }
}
