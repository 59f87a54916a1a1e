import { maskCardUid } from '../../shared/card.ts';
import { type CardFeeSchedule, type CardType, cardFee, cardTypesWithAnnualFee } from '../../shared/rules/cards.ts';
import { localDateOf } from '../../shared/rules/points-expiry.ts';
import { programCardFees, type ProgramRules } from '../../shared/rules/program.ts';
import type { Database } from '../db/database.ts';
import type { Actor } from '../kernel/actor.ts';
import { HubError, kernelErrors } from '../kernel/errors.ts';
import { invalid } from '../kernel/input.ts';
import { ledgerErrors, profileOf, type Ledger } from '../ledger/index.ts';
import { DEFAULT_TIME_ZONE, getStore, storeTimeZones } from '../org/index.ts';
import { CardService } from './card-service.ts';
import { cardErrors } from './errors.ts';

/**
 * The annual-fee job: every active card whose type has an annual fee owes it once per local year, the year of
 * the member's home store (the chain's calendar for a member without one), taken from stored value and booked
 * to that store. It charges through CardService.chargeFee, so the fee record (unique per card, kind and year)
 * is what makes it once a year: a card with a record for every local year the chain's stores are in now is not
 * listed again (only around New Year, when the zones disagree, are such cards looked at one by one), and the
 * idempotency key names the card and the year, so overlapping runs charge it once. VIP fees are waived: the
 * record shows it.
 *
 * A member whose stored value cannot pay is not charged at all (never part of it, never below zero): the card is
 * counted as unpaid, logged, and tried again on every run until the balance covers it or the year ends.
 */

export const ANNUAL_FEE_JOB_ACTOR: Actor = { type: 'system', id: 'annual-fee-job' };

export interface AnnualFeeRun {
  asOf: string;
  /** The program rules version whose card fee schedule was charged. */
  rulesVersion: number;
  /** Fees taken from stored value by this run, and their total. */
  charged: number;
  chargedFen: number;
  /** Fees waived (VIP cards): recorded, nothing taken. */
  waived: number;
  /** Cards whose member's stored value could not pay: nothing taken, tried again next run. */
  unpaid: number;
  unpaidFen: number;
  /** Cards charged, cancelled or replaced by someone else between the listing and the charge. */
  skipped: number;
  /** Cards the ledger refused for another reason (logged as errors): tried again next run. */
  failed: number;
}

export interface AnnualFeeOptions {
  /** The published rules the run charges by (the latest when it starts). */
  program: { readonly version: number; readonly rules: ProgramRules };
  asOf?: Date;
  /** Cards per page; progress is logged per page on runs longer than one page. */
  batchSize?: number;
  /** pino (the job's logger); unpaid cards are warnings, other refusals errors. */
  logger?: Record<'info' | 'warn' | 'error', (fields: object, message: string) => void>;
}

interface DueCard {
  uid: string;
  type: CardType;
  member_id: string;
}

export async function chargeAnnualFees(db: Database, ledger: Ledger, { program, asOf = new Date(), batchSize = 200, logger }: AnnualFeeOptions): Promise<AnnualFeeRun> {
  if (!Number.isSafeInteger(asOf.getTime())) throw invalid('asOf 须为有效的时间', 'asOf must be a valid instant');
  const schedule = programCardFees(program.rules);
  const cards = new CardService(db, ledger, { feeSchedule: schedule });
  const run: AnnualFeeRun = { asOf: asOf.toISOString(), rulesVersion: program.version, charged: 0, chargedFen: 0, waived: 0, unpaid: 0, unpaidFen: 0, skipped: 0, failed: 0 };
  const types = cardTypesWithAnnualFee(schedule);
  if (types.length === 0) {
    logger?.info(run, 'annual fees finished: no card type has an annual fee');
    return run;
  }
  const years = await localYears(db, asOf);
  let after = '';
  for (let page = 1; ; page++) {
    const due = await dueCards(db, { types, years: [...new Set(Object.values(years))], after, limit: batchSize });
    for (const card of due) {
      const { homeStoreId } = await profileOf(db, card.member_id);
      const zone = (homeStoreId === null ? undefined : await getStore(db, homeStoreId))?.timeZone ?? DEFAULT_TIME_ZONE;
      const year = yearOf(years, zone, asOf);
      // Listed for a year the chain's other zones are in: its own local year's fee is already recorded.
      if (await hasAnnualFee(db, card.uid, year)) continue;
      await chargeOne({ cards, schedule, card, homeStoreId, year, asOf, run, logger });
    }
    if (due.length < batchSize) break;
    after = due[due.length - 1]!.uid;
    logger?.info({ page, ...run }, 'annual fees in progress');
  }
  logger?.info(run, 'annual fees finished');
  return run;
}

interface OneCharge {
  cards: CardService;
  schedule: CardFeeSchedule;
  card: DueCard;
  homeStoreId: string | null;
  year: string;
  asOf: Date;
  /** Counted into. */
  run: AnnualFeeRun;
  logger: AnnualFeeOptions['logger'];
}

/**
 * Charges one card's fee for the year and counts the outcome. A refusal of this one card does not stop the
 * others; anything else (the database gone) fails the run, and the next run picks up where it stopped.
 */
async function chargeOne({ cards, schedule, card, homeStoreId, year, asOf, run, logger }: OneCharge): Promise<void> {
  try {
    const { fee, replay } = await cards.chargeFee({
      cardUid: card.uid,
      kind: 'annual',
      idempotencyKey: `annual-fee:${card.uid}:${year}`,
      reason: `${year}年年费 / Annual card fee ${year}`,
      actor: ANNUAL_FEE_JOB_ACTOR,
      ...(homeStoreId === null ? {} : { storeId: homeStoreId }),
      asOf,
    });
    if (replay) run.skipped++;
    else if (fee!.amountFen > 0) {
      run.charged++;
      run.chargedFen += fee!.amountFen;
    } else run.waived++;
  } catch (error) {
    if (!(error instanceof HubError) || error.status >= 500) throw error;
    const fields = { card: maskCardUid(card.uid), memberId: card.member_id, year };
    if (error.code === ledgerErrors.INSUFFICIENT_BALANCE.code) {
      const feeFen = cardFee(schedule, card.type, 'annual').amountFen;
      run.unpaid++;
      run.unpaidFen += feeFen;
      logger?.warn({ ...fields, feeFen }, 'annual fee unpaid: stored value too low; tried again next run');
    } else if (error.code === kernelErrors.CONFLICT.code || error.code === cardErrors.CARD_INVALID_STATE.code) {
      run.skipped++;
    } else {
      run.failed++;
      logger?.error({ ...fields, code: error.code, message: error.message }, 'annual fee refused; tried again next run');
    }
  }
}

/** The local year at asOf in every time zone a store uses, and the chain's. */
async function localYears(db: Database, asOf: Date): Promise<Record<string, string>> {
  const zones = new Set([DEFAULT_TIME_ZONE, ...(await storeTimeZones(db))]);
  return Object.fromEntries([...zones].map((zone) => [zone, String(localDateOf(asOf, zone).year)]));
}

/** A store created with a new zone since the run started is not in `years`. */
function yearOf(years: Record<string, string>, zone: string, asOf: Date): string {
  return years[zone] ?? String(localDateOf(asOf, zone).year);
}

/**
 * Active cards of the types that owe an annual fee and have no fee record for one of the local years the
 * chain's stores are in now, in uid order after `after` (a card left unpaid is passed over for the rest of this
 * run, not listed again on every page). Which of those years is the card's own is decided per card.
 */
async function dueCards(db: Database, page: { types: readonly string[]; years: readonly string[]; after: string; limit: number }): Promise<DueCard[]> {
  const { rows } = await db.query<DueCard>(
    `SELECT c.uid, c.type, c.member_id
       FROM cards c
      WHERE c.status = 'active'
        AND c.type = ANY($1::text[])
        AND c.uid > $3
        AND (SELECT count(DISTINCT f.period) FROM card_fees f
              WHERE f.card_uid = c.uid AND f.kind = 'annual' AND f.period = ANY($2::text[])) < cardinality($2::text[])
      ORDER BY c.uid
      LIMIT $4`,
    [page.types, page.years, page.after, page.limit],
  );
  return rows;
}

async function hasAnnualFee(db: Database, cardUid: string, year: string): Promise<boolean> {
  const { rows } = await db.query("SELECT 1 FROM card_fees WHERE card_uid = $1 AND kind = 'annual' AND period = $2", [cardUid, year]);
  return rows.length > 0;
}
