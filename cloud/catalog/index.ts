/**
 * The redemption catalog: items with chain-wide and per-store stock, per-member limits, redemptions for points
 * (and a cash part), Ed25519-signed vouchers a cashier verifies offline, write-off exactly once, and expiry.
 */
import { couponErrors } from '../coupons/index.ts';
import type { HubModule, HubServices } from '../kernel/module.ts';
import { catalogErrors } from './errors.ts';
import { registerCatalogRoutes } from './routes.ts';
import { loadVoucherSigningKey, type VoucherSigningKey } from './signing-key.ts';
import { reverseRedemption } from './redemption-refunds.ts';
import { expireVouchers } from './vouchers.ts';

export { catalogErrors } from './errors.ts';
export { generateVoucherSigningKey, type VoucherSigningKey } from './signing-key.ts';

export interface CatalogModuleOptions {
  /** The key vouchers are signed with; default the hub's lasting key (HUB_VOUCHER_SIGNING_KEY, else kept in the data dir). */
  voucherKey?: VoucherSigningKey;
}

export async function catalogModule(hub: HubServices, options: CatalogModuleOptions = {}): Promise<HubModule> {
  const { db, ledger, rules, logger, config } = hub;
  const voucherKey = options.voucherKey ?? (await loadVoucherSigningKey({ pem: config.voucherSigningKeyPem, dataDir: config.dataDir, logger }));
  return {
    name: 'catalog',
    tables: ['catalog_items', 'catalog_store_stock', 'catalog_item_audit', 'vouchers', 'voucher_events', 'catalog_coupon_redemptions'],
    errors: catalogErrors,
    routes: async (api) => registerCatalogRoutes(api, { db, ledger, logger, rules, voucherKey }),
    jobs: [{ name: 'voucher-expiry', run: ({ asOf }) => expireVouchers(db, { asOf }) }],
    reverser: {
      reverse: reverseRedemption,
      refusals: [catalogErrors.VOUCHER_ALREADY_USED, catalogErrors.VOUCHER_EXPIRED, couponErrors.COUPON_ALREADY_USED, couponErrors.COUPON_NOT_APPLICABLE],
    },
  };
}
