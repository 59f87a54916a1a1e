import { DeviceTransaction } from '../../shared/contract/payloads.ts';
import { withinSavepoint } from '../db/database.ts';
import { refusalOf } from '../kernel/errors.ts';
import type { DeviceTransactionHandler, DeviceTransactionOutcome } from '../kernel/module.ts';
import type { RulesStore } from '../program/index.ts';
import type { Ledger, TopUpInput } from './ledger.ts';
import { type HubTopUpPricing, topUpPricingOf } from './topup-pricing.ts';
import { toSnapshot } from './types.ts';

/** A top-up of a batch once priced: the ledger's input, or the refusal its pricing ended in. */
type PreparedTopUp = { tx: DeviceTransaction; input: TopUpInput; pricing: HubTopUpPricing | undefined } | { tx: DeviceTransaction; refused: unknown };

/**
 * A kiosk's cash top-up (device transaction kind `cash_topup`): posted once by its txId, acting as the device
 * that recorded it, priced again by the hub with the rules version and instant the kiosk named (topup-pricing.ts).
 * A price that differs from the kiosk's promise is posted as the hub computed it and reported as an anomaly.
 * Top-ups come in batches (the gateway's): priced before the batch's database transaction, posted inside it.
 */
export function kioskTopUps(ledger: Ledger, rules: Pick<RulesStore, 'byVersion'>): DeviceTransactionHandler {
  return {
    orderKey: (transaction) => (transaction as unknown as DeviceTransaction).body.memberId,
    async prepareBatch(transactions) {
      const prepared = new Map(
        await Promise.all(transactions.map(async (transaction) => [transaction, await prepare(rules, transaction as unknown as DeviceTransaction)] as const)),
      );
      return async (toWrite, { tx }) => {
        const outcomes: DeviceTransactionOutcome[] = [];
        for (const item of toWrite.map((transaction) => prepared.get(transaction)!)) {
          if ('refused' in item) {
            outcomes.push({ status: 'refused', error: item.refused });
            continue;
          }
          try {
            // Under a savepoint: a refusal (unknown member, card not the member's, key reused) undoes only this one.
            const posted = await withinSavepoint(tx, () => ledger.topUpCashIn(tx, item.input));
            outcomes.push(appliedOutcome(item.tx, posted, item.pricing));
          } catch (error) {
            if (!refusalOf(error)) throw error;
            outcomes.push({ status: 'refused', error });
          }
        }
        return outcomes;
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

function appliedOutcome(tx: DeviceTransaction, posted: Awaited<ReturnType<Ledger['topUpCashIn']>>, pricing: HubTopUpPricing | undefined): DeviceTransactionOutcome {
  const priced = pricing && { rulesVersion: pricing.rulesVersion, ...pricing.price };
  return {
    status: 'applied',
    replay: posted.replay,
    member: toSnapshot(posted.member),
    logged: { amountFen: tx.body.amountFen, priced },
    ...(pricing?.mismatch ? { anomaly: { kind: 'pricing-mismatch', detail: { kiosk: tx.body.pricing, hub: pricing.price } } } : {}),
  };
}
