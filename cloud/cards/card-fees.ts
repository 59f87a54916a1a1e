import type { CardFeeKind, CardFeeQuote } from '../../shared/rules/cards.ts';
import type { Queryable } from '../db/database.ts';
import type { Actor } from '../kernel/actor.ts';
import { kernelErrors } from '../kernel/errors.ts';

/** A fee as recorded: charged (with its ledger transaction) or waived / free (without). */
export interface CardFeeView extends CardFeeQuote {
  cardUid: string;
  /** 'once' for joining and replacement fees, the local year for annual fees. */
  period: string;
  txId?: string;
}

const FEE_NAMES: Record<CardFeeKind, { zh: string; en: string }> = {
  joining: { zh: '开卡费', en: 'joining fee' },
  annual: { zh: '年费', en: 'annual fee' },
  replacement: { zh: '补卡费', en: 'replacement fee' },
};

/** Refuses a fee this card already has for this period (checked under the member lock, before charging). */
export async function assertFeeNotRecorded(tx: Queryable, cardUid: string, kind: CardFeeKind, period: string): Promise<void> {
  const { rows } = await tx.query('SELECT 1 FROM card_fees WHERE card_uid = $1 AND kind = $2 AND period = $3', [cardUid, kind, period]);
  if (rows.length === 0) return;
  const name = FEE_NAMES[kind];
  const when = period === 'once' ? '' : ` (${period})`;
  throw kernelErrors.CONFLICT({ zh: `此卡的${name.zh}${when}已收取`, en: `The ${name.en}${when} of this card was already charged` });
}

export interface FeeRecord {
  cardUid: string;
  memberId: string;
  period: string;
  quote: CardFeeQuote;
  /** The 'card_fee' ledger transaction when something was charged. */
  txId: string | undefined;
  actor: Actor;
  reason: string;
}

export async function recordCardFee(tx: Queryable, fee: FeeRecord): Promise<CardFeeView> {
  const { quote } = fee;
  await tx.query(
    `INSERT INTO card_fees (card_uid, member_id, kind, period, scheduled_fen, amount_fen, waived_by, tx_id, actor_type, actor_id, reason)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
    [
      fee.cardUid,
      fee.memberId,
      quote.kind,
      fee.period,
      quote.scheduledFen,
      quote.amountFen,
      quote.waivedBy ?? null,
      fee.txId ?? null,
      fee.actor.type,
      fee.actor.id,
      fee.reason,
    ],
  );
  return { ...quote, cardUid: fee.cardUid, period: fee.period, ...(fee.txId === undefined ? {} : { txId: fee.txId }) };
}
