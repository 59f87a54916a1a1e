/**
 * The program notices a member sees at a kiosk, under their balances: how far they are from the next tier, that
 * their tier is about to drop, and points about to expire. The hub writes them into every member snapshot it
 * builds for a kiosk (card lookup, member fan-out), with the current program rules and the member's home
 * store's time zone, so the kiosk only displays text and can show it from its cache when offline.
 *
 * The facts behind them are read in the same statement as the rest of the member (noticeFactsSql), through the
 * fragments of the modules that own them.
 */
import type { Logger } from '../../shared/logger.ts';
import { formatFen } from '../../shared/money.ts';
import { Value } from '@sinclair/typebox/value';
import { MemberNotice, type MemberSnapshot } from '../../shared/contract/payloads.ts';
import { localDateOf, pointsExpiringWithin, type LotBalance } from '../../shared/rules/points-expiry.ts';
import type { ProgramRules } from '../../shared/rules/program.ts';
import { tierProgress, tierWarning, type MemberTierState } from '../../shared/rules/tier-review.ts';
import { tierById } from '../../shared/rules/tiers.ts';
import { expiringLotsOf, expiringLotsSql, storedValueSpentSql } from '../ledger/index.ts';
import { DEFAULT_TIME_ZONE, storeTimeZoneSql } from '../org/index.ts';
import type { PublishedRules } from './rules-store.ts';
import { recordedSpendSql, spendWindowStart, tierStateOf, type MemberTierRow } from './tiers.ts';

const DAY_MS = 86_400_000;

type LocalDate = ReturnType<typeof localDateOf>;

/** Points expiring within this many 24-hour days are announced (the same look-ahead as the REST warning's default). */
export const POINTS_NOTICE_DAYS = 30;

/** What the notices are computed from, as read from the database. */
export interface NoticeFacts {
  readonly tierState: MemberTierState;
  /** Qualifying spend (fen) in the tier window ending at the notices' instant. */
  readonly spendFen: number;
  /** Open lots; only those expiring within POINTS_NOTICE_DAYS matter. */
  readonly lots: readonly LotBalance[];
  /** The member's home store's zone: the calendar the member lives by. */
  readonly timeZone: string;
}

const EN_MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;

/** "12月31日" / "31 Dec", with the year only when it is not the current local year ("2027年1月31日" / "31 Jan 2027"). */
function dayText(day: LocalDate, today: LocalDate): { zh: string; en: string } {
  const sameYear = day.year === today.year;
  return {
    zh: `${sameYear ? '' : `${day.year}年`}${day.month}月${day.day}日`,
    en: `${day.day} ${EN_MONTHS[day.month - 1]}${sameYear ? '' : ` ${day.year}`}`,
  };
}

/** The last local day before an instant (midnight-based deadlines and expiries are announced by their last day). */
const lastDayBefore = (instant: Date, timeZone: string): LocalDate => localDateOf(new Date(instant.getTime() - 1), timeZone);

/**
 * The notices for a member at instant `at`, at most one per kind: a tier at risk (instead of progress: the
 * spend no longer even keeps the tier held), else the progress to the next tier (none at the top tier), then
 * the soonest batch of expiring points. Pure; amounts in whole fen shown as formatFen, points as counts.
 */
export function memberNotices(rules: ProgramRules, facts: NoticeFacts, at: Date): MemberNotice[] {
  const { tierState, spendFen, timeZone } = facts;
  const today = localDateOf(at, timeZone);
  const notices: MemberNotice[] = [];
  const warning = tierWarning(rules.tiers, rules.tierReview, tierState, spendFen, at);
  if (warning) {
    const held = tierById(warning.tier, rules.tiers);
    const amount = formatFen(warning.remainingFen);
    // As tierWarning: a deadline already passed is announced as today (the next review drops the tier).
    const by = dayText(lastDayBefore(new Date(Math.max(warning.deadline.getTime(), at.getTime() + 1)), timeZone), today);
    notices.push({
      kind: 'tier_at_risk',
      zh: `再消费${amount}保级${held.nameZh}（${by.zh}前）`,
      en: `Spend ${amount} more by ${by.en} to keep ${held.nameEn}`,
    });
  } else {
    const progress = tierProgress(rules.tiers, tierState, spendFen);
    if (progress) {
      const next = tierById(progress.nextTier, rules.tiers);
      const amount = formatFen(progress.remainingFen);
      notices.push({ kind: 'tier_progress', zh: `再消费${amount}升级${next.nameZh}`, en: `Spend ${amount} more to reach ${next.nameEn}` });
    }
  }
  const soonest = pointsExpiringWithin(facts.lots, at, POINTS_NOTICE_DAYS).batches[0];
  if (soonest) {
    const on = dayText(lastDayBefore(soonest.expiresAt, timeZone), today);
    const { points } = soonest;
    notices.push({
      kind: 'points_expiring',
      zh: `您有 ${points} 积分将于 ${on.zh} 到期`,
      en: `${points} ${points === 1 ? 'point expires' : 'points expire'} on ${on.en}`,
    });
  }
  return notices;
}

/** What the notices of one member read are computed with: the published rules and the instant. */
export interface NoticeRead {
  readonly published: PublishedRules;
  readonly at: Date;
}

/** The columns noticeFactsSql adds to the read, and memberTierSql's, which the read must include too. */
export interface NoticeFactsRow extends MemberTierRow {
  recorded_spend_fen: number | string;
  stored_value_spent_fen: number | string;
  expiring_lots: unknown;
  home_time_zone: string | null;
  rules_version: number;
}

/**
 * One row with the facts behind a member's notices at `read.at`, for a one-statement read that also reads the
 * member's tier (memberTierSql): the recorded spend (this module's), the stored-value spend and the lots expiring
 * within POINTS_NOTICE_DAYS (the ledger's fragments), the home store's zone (the organisation's) and the latest
 * published rules version, so the caller can tell that its rules were outdated. `member` names the enclosing statement's columns; `bind` adds a value to its
 * parameters and returns the placeholder.
 */
export function noticeFactsSql(read: NoticeRead, member: { memberId: string; homeStoreId: string }, bind: (value: string) => string): string {
  const { at, published } = read;
  const now = `${bind(at.toISOString())}::timestamptz`;
  const windowStart = `${bind(spendWindowStart(at, published.rules.tiers.spendWindowDays).toISOString())}::timestamptz`;
  const horizon = `${bind(new Date(at.getTime() + POINTS_NOTICE_DAYS * DAY_MS).toISOString())}::timestamptz`;
  return `SELECT (${recordedSpendSql(member.memberId, windowStart, now)}) AS recorded_spend_fen,
                 (${storedValueSpentSql(member.memberId, windowStart, now)}) AS stored_value_spent_fen,
                 (${expiringLotsSql(member.memberId, now, horizon)}) AS expiring_lots,
                 (${storeTimeZoneSql(member.homeStoreId)}) AS home_time_zone,
                 (SELECT max(version) FROM program_rule_sets) AS rules_version`;
}

/**
 * The facts of a noticeFactsSql row, for a member who joined at `joinedAt`. Tier state as readTierState: no tier
 * row, or a tier the rules no longer define, is the lowest tier since joining.
 */
export function noticeFactsOf(row: NoticeFactsRow, rules: ProgramRules, joinedAt: Date): NoticeFacts {
  return {
    tierState: tierStateOf(row, rules, joinedAt),
    spendFen: Math.max(0, Number(row.recorded_spend_fen) + Number(row.stored_value_spent_fen)),
    lots: expiringLotsOf(row.expiring_lots),
    timeZone: row.home_time_zone ?? DEFAULT_TIME_ZONE,
  };
}

export interface KioskNoticesOptions {
  /** The rules store (`sync.program`): notices follow the rules published now. */
  program: { current(): Promise<PublishedRules> };
  logger: Logger;
  /**
   * Off by default: kiosk software from before `notices` refuses a snapshot carrying them (and with it the card
   * lookup), so a chain turns them on once every kiosk runs software that shows them (protocol.md).
   */
  enabled?: boolean;
  now?: () => Date;
}

/**
 * Adds the member's notices to the snapshots the hub sends kiosks on card lookups and member updates. The facts
 * are read in the caller's own statement (noticeFactsSql); the rules are kept here between reads, and each read
 * also returns the latest published version, so a newer rule set is picked up by the first read after it.
 */
export class KioskNotices {
  /** Whether snapshots for kiosks carry notices; see KioskNoticesOptions.enabled. */
  enabled: boolean;
  private published: PublishedRules | undefined;

  constructor(private readonly options: KioskNoticesOptions) {
    this.enabled = options.enabled ?? false;
  }

  /**
   * The rules and instant for the notices of the read about to be made; undefined when notices are off or the
   * rules cannot be read — the snapshot then goes out without notices: a member is never kept from their balances by them.
   */
  async begin(): Promise<NoticeRead | undefined> {
    if (!this.enabled) return undefined;
    const { program, logger, now = () => new Date() } = this.options;
    try {
      this.published ??= await program.current();
    } catch (error) {
      logger.warn({ err: (error as Error).message }, 'program rules not read; snapshots go without notices');
      return undefined;
    }
    return { published: this.published, at: now() };
  }

  /**
   * After a read: when the database holds newer rules than the read used, the read to make again with them
   * (rare: once after each publish); otherwise undefined.
   */
  async newerThan(read: NoticeRead, row: Pick<NoticeFactsRow, 'rules_version'>): Promise<NoticeRead | undefined> {
    if (Number(row.rules_version) <= read.published.version) return undefined;
    this.published = undefined;
    const fresh = await this.begin();
    return fresh && fresh.published.version > read.published.version ? { ...fresh, at: read.at } : undefined;
  }

  /**
   * The snapshot with its notices (`[]`: none), computed from a noticeFactsSql row. When they cannot be computed
   * the snapshot goes out without the field, which tells the kiosk nothing about notices.
   */
  attach(snapshot: MemberSnapshot, read: NoticeRead, row: NoticeFactsRow, joinedAt: Date): MemberSnapshot {
    try {
      const { rules } = read.published;
      // Tier names have no length limit in the rules: a notice too long for the contract is left out, as kiosks
      // would refuse the whole snapshot (and with it the member's balances) for it.
      const notices = memberNotices(rules, noticeFactsOf(row, rules, joinedAt), read.at).filter((notice) => Value.Check(MemberNotice, notice));
      return { ...snapshot, notices };
    } catch (error) {
      this.options.logger.warn({ memberId: snapshot.memberId, err: (error as Error).message }, 'member notices not computed; snapshot sent without them');
      return snapshot;
    }
  }
}
