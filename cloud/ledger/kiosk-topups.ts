import { DeviceTransaction } from '../../shared/contract/payloads.ts';
import type { DeviceTransactionHandler } from '../kernel/module.ts';
import type { RulesStore } from '../program/index.ts';
import type { Ledger } from './ledger.ts';
import { topUpPricingOf } from './topup-pricing.ts';
import { toSnapshot } from './types.ts';

/**
 * A kiosk's cash top-up (device transaction kind `cash_topup`): posted once by its txId, acting as the device
 * that recorded it, priced again by the hub with the rules version and instant the kiosk named (topup-pricing.ts).
 * A price that differs from the kiosk's promise is posted as the hub computed it and reported as an anomaly.
 */
export function kioskTopUps(ledger: Ledger, rules: Pick<RulesStore, 'byVersion'>): DeviceTransactionHandler {
  return {
    async apply(transaction, { deviceId }) {
      const tx = transaction as unknown as DeviceTransaction;
      const pricing = await topUpPricingOf(rules, tx);
      const posted = await ledger.topUpCash({
        idempotencyKey: tx.txId,
        memberId: tx.body.memberId,
        cardUid: tx.body.cardUid,
        amountFen: tx.body.amountFen,
        deviceId,
        deviceSeq: tx.seq,
        actor: { type: 'device', id: deviceId },
        ...(pricing ? { bonusRules: pricing.bonusRules, at: pricing.at, pointsExpiry: pricing.pointsExpiry, reason: pricing.reason } : {}),
      });
      const priced = pricing && { rulesVersion: pricing.rulesVersion, ...pricing.price };
      return {
        replay: posted.replay,
        member: toSnapshot(posted.member),
        logged: { amountFen: tx.body.amountFen, priced },
        ...(pricing?.mismatch ? { anomaly: { kind: 'pricing-mismatch', detail: { kiosk: tx.body.pricing, hub: pricing.price } } } : {}),
      };
    },
  };
}
