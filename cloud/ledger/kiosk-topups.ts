import { DeviceTransaction } from '../../shared/contract/payloads.ts';
import { refusalOf } from '../kernel/errors.ts';
import type { DeviceTransactionHandler, DeviceTransactionOutcome } from '../kernel/module.ts';
import type { RulesStore } from '../program/index.ts';
import type { Ledger, TopUpInput, TopUpResult } from './ledger.ts';
import { type HubTopUpPricing, topUpPricingOf } from './topup-pricing.ts';
import { toSnapshot } from './types.ts';

/** A top-up of a batch once priced: the ledger's input, or the refusal its pricing ended in. */
type PreparedTopUp = { tx: DeviceTransaction; input: TopUpInput; pricing: HubTopUpPricing | undefined } | { tx: DeviceTransaction; refused: unknown };

/**
 * A kiosk's cash top-up (device transaction kind `cash_topup`): posted once by its txId, acting as the device
 * that recorded it, priced again by the hub with the rules version and instant the kiosk named (topup-pricing.ts).
 * A price that differs from the kiosk's promise is posted as the hub computed it and reported as an anomaly.
 * Top-ups come in batches (the gateway's): priced before the batch's database transaction, posted inside it all
 * together (Ledger.topUpCashBatch).
 */
export function kioskTopUps(ledger: Ledger, rules: Pick<RulesStore, 'byVersion'>): DeviceTransactionHandler {
  return {
    async prepareBatch(transactions) {
      const prepared = new Map(
        await Promise.all(transactions.map(async (transaction) => [transaction, await prepare(rules, transaction as unknown as DeviceTransaction)] as const)),
      );
      return async (toWrite, { tx }) => {
        const items = toWrite.map((transaction) => prepared.get(transaction)!);
        const priced = items.filter((item) => 'input' in item);
        const posted = await ledger.topUpCashBatch(
          tx,
          priced.map((item) => item.input),
        );
        const outcomeOf = new Map(priced.map((item, index) => [item, posted[index]!]));
        return items.map((item): DeviceTransactionOutcome => {
          if ('refused' in item) return { status: 'refused', error: item.refused };
          const outcome = outcomeOf.get(item)!;
          return outcome.status === 'posted' ? appliedOutcome(item.tx, outcome.posted, item.pricing) : outcome;
        });
      };
    },
  };
}

async function prepare(rules: Pick<RulesStore, 'byVersion'>, tx: DeviceTransaction): Promise<PreparedTopUp> {
  let pricing: HubTopUpPricing | undefined;
  try {
    pricing = await topUpPricingOf(rules, tx);
  } catch (error) {
    if (!refusalOf(error)) throw error;
    return { tx, refused: error };
  }
  const input: TopUpInput = {
    idempotencyKey: tx.txId,
    memberId: tx.body.memberId,
    cardUid: tx.body.cardUid,
    amountFen: tx.body.amountFen,
    deviceId: tx.deviceId,
    deviceSeq: tx.seq,
    actor: { type: 'device', id: tx.deviceId },
    ...(pricing ? { bonusRules: pricing.bonusRules, at: pricing.at, pointsExpiry: pricing.pointsExpiry, reason: pricing.reason } : {}),
  };
  return { tx, input, pricing };
}

function appliedOutcome(tx: DeviceTransaction, posted: TopUpResult, pricing: HubTopUpPricing | undefined): DeviceTransactionOutcome {
  const priced = pricing && { rulesVersion: pricing.rulesVersion, ...pricing.price };
  return {
    status: 'applied',
    replay: posted.replay,
    member: toSnapshot(posted.member),
    logged: { amountFen: tx.body.amountFen, priced },
    ...(pricing?.mismatch ? { anomaly: { kind: 'pricing-mismatch', detail: { kiosk: tx.body.pricing, hub: pricing.price } } } : {}),
  };
}
