/**
 * The program notices a member sees at a kiosk, under their balances: how far they are from the next tier, that
 * their tier is about to drop, and points about to expire. The hub writes them into every member snapshot it
 * builds for a kiosk (card lookup, member fan-out), with the current program rules and the member's home
 * store's time zone, so the kiosk only displays text and can show it from its cache when offline.
 *
 * The facts behind them are read by member id from the modules that own them (loadNoticeFacts), plus the
 * rules store's latest-version read (one row by primary key).
 */
import type { Logger } from '../../shared/logger.ts';
import { formatFen } from '../../shared/money.ts';
import { Value } from '@sinclair/typebox/value';
import { MemberNotice, type MemberSnapshot } from '../../shared/contract/payloads.ts';
import { localDateOf, pointsExpiringWithin, type LotBalance } from '../../shared/rules/points-expiry.ts';
import type { ProgramRules } from '../../shared/rules/program.ts';
import { tierProgress, tierWarning, type MemberTierState } from '../../shared/rules/tier-review.ts';
import { tierById } from '../../shared/rules/tiers.ts';
import type { Queryable } from '../db/database.ts';
import { HubError } from '../kernel/errors.ts';
import { ledgerErrors, openLotBalances, profileOf } from '../ledger/index.ts';
import { DEFAULT_TIME_ZONE, getStore } from '../org/index.ts';
import type { PublishedRules } from './rules-store.ts';
import { readTierState, windowSpendFen } from './tiers.ts';

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

/**
 * The facts for one member at `at`, read through the modules that own them (the member's join date, lots and
 * stored-value spend from the ledger, the home store's zone from the organisation); undefined for an unknown
 * member. Tier state as readTierState: no tier row, or a tier the rules no longer define, is the lowest tier
 * since registration.
 */
export async function loadNoticeFacts(q: Queryable, memberId: string, rules: ProgramRules, at: Date): Promise<NoticeFacts | undefined> {
  const profile = await profileOf(q, memberId).catch((error: unknown) => {
    if (error instanceof HubError && error.code === ledgerErrors.MEMBER_NOT_FOUND.code) return undefined;
    throw error;
  });
  if (!profile) return undefined;
  const horizon = at.getTime() + POINTS_NOTICE_DAYS * DAY_MS;
  const lots = (await openLotBalances(q, memberId)).filter((lot) => lot.expiresAt !== null && lot.expiresAt > at.getTime() && lot.expiresAt <= horizon);
  const home = profile.homeStoreId === null ? undefined : await getStore(q, profile.homeStoreId);
  return {
    tierState: await readTierState(q, memberId, rules, profile.createdAt),
    spendFen: await windowSpendFen(q, memberId, at, rules.tiers.spendWindowDays),
    lots,
    timeZone: home?.timeZone ?? DEFAULT_TIME_ZONE,
  };
}

export interface KioskNoticesOptions {
  db: Queryable;
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

/** Adds the member's notices to the snapshots the hub sends kiosks on card lookups and member updates. */
export class KioskNotices {
  /** Whether snapshots for kiosks carry notices; see KioskNoticesOptions.enabled. */
  enabled: boolean;

  constructor(private readonly options: KioskNoticesOptions) {
    this.enabled = options.enabled ?? false;
  }

  /**
   * The snapshot with its notices (`[]`: none). When they cannot be computed the snapshot goes out without the
   * field, which tells the kiosk nothing about notices: a member is never kept from their balances by them.
   */
  async attach(snapshot: MemberSnapshot | undefined): Promise<MemberSnapshot | undefined> {
    if (!snapshot || !this.enabled) return snapshot;
    const { db, program, logger, now = () => new Date() } = this.options;
    try {
      const at = now();
      const { rules } = await program.current();
      const facts = await loadNoticeFacts(db, snapshot.memberId, rules, at);
      if (!facts) return snapshot;
      // Tier names have no length limit in the rules: a notice too long for the contract is left out, as kiosks
      // would refuse the whole snapshot (and with it the member's balances) for it.
      const notices = memberNotices(rules, facts, at).filter((notice) => Value.Check(MemberNotice, notice));
      return { ...snapshot, notices };
    } catch (error) {
      logger.warn({ memberId: snapshot.memberId, err: (error as Error).message }, 'member notices not computed; snapshot sent without them');
      return snapshot;
    }
  }
}
