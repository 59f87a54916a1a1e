import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Logger } from '../../shared/logger.ts';
import { normalizeVoucherCode } from '../../shared/rules/voucher.ts';
import type { Database } from '../db/database.ts';
import { couponErrors } from '../coupons/index.ts';
import { kernelErrors } from '../kernel/errors.ts';
import { ledgerErrors, MemberParams, type Ledger } from '../ledger/index.ts';
import { orgErrors } from '../org/index.ts';
import type { RulesStore } from '../program/index.ts';
import { ALL_ROLES, forbidden, operatorActor, operatorOf, scope, type OperatorAccess, type ScopeSource } from '../kernel/access.ts';
import type { Role } from '../kernel/principal.ts';
import { catalogErrors } from './errors.ts';
import { adjustStock, createItem, getItem, itemAudit, listItems, updateItem } from './items.ts';
import { couponRedemptionByTx, couponRedemptionNotFound, refundCouponRedemption } from './coupon-redemptions.ts';
import { REDEMPTION_REFUSALS, redeem } from './redeem.ts';
import * as S from './schemas.ts';
import { type VoucherSigningKey } from './signing-key.ts';
import {
  type Voucher,
  expireVouchers,
  memberVouchers,
  refundVoucher,
  verifyAtHub,
  voucherByCode,
  voucherNotFound,
  writeOffVoucher,
} from './vouchers.ts';

/**
 * REST for the redemption catalog and vouchers (tag "catalog"). Who may do what:
 * - browse items: admin, manager, cashier; define items and chain-wide stock: admin or manager at HQ (the
 *   catalog is chain-wide); a store's stock: admin or manager whose scope covers the store;
 * - redeem for a member: admin, manager, cashier, with the member and the store in scope;
 * - write off / verify a voucher: admin, manager, cashier at a store in scope;
 * - refund a voucher or a coupon redemption: admin or manager with the member in scope; run the expiry job: admin at HQ.
 */

const CATALOG_ROLES: readonly Role[] = ['admin', 'manager', 'cashier'];
const MANAGER_ROLES: readonly Role[] = ['admin', 'manager'];
const TAGS = ['catalog'];

export interface CatalogRoutesDeps {
  db: Database;
  ledger: Ledger;
  /** The hub's voucher key (loadVoucherSigningKey). */
  voucherKey: VoucherSigningKey;
  /** The hub's published program rules: each operation reads the current ones. */
  rules: RulesStore;
  logger?: Logger;
}

const chainWideOnly = (): never => {
  throw forbidden('目录是全连锁统一的：只有总部操作员可以定义商品和全连锁库存', 'The catalog is chain-wide: only headquarters operators define items and chain-wide stock.');
};

/** Defining items and chain-wide stock: managers and admins at headquarters. */
const HQ_CATALOG: OperatorAccess = { roles: MANAGER_ROLES, levels: ['hq'], scope: scope.none('the catalog is chain-wide: headquarters only') };
const BROWSE: OperatorAccess = { roles: CATALOG_ROLES, scope: scope.none('the catalog is the same at every store') };

/** A stock adjustment of one store's stock needs that store in scope; without a store it is chain-wide stock, for HQ. */
const stockOwner: ScopeSource = scope.of('body', 'storeId', 'store', [orgErrors.STORE_NOT_FOUND], async (value, request) => {
  if (typeof value === 'string') return { store: value };
  return operatorOf(request).scope.level === 'hq' ? undefined : chainWideOnly();
});

/** The store a redemption, verification or write-off happens at: the body's, else the operator's own; one is required. */
const AT_STORE = scope.actingStore({ required: true });

/** What a refund of a redemption can be refused with besides bad input (see the vouchers' and coupons' reversal). */
const REFUND_REFUSALS = [kernelErrors.INVALID_INPUT, kernelErrors.IDEMPOTENCY_CONFLICT, ledgerErrors.ALREADY_REFUNDED];

export async function registerCatalogRoutes(app: FastifyInstance, deps: CatalogRoutesDeps): Promise<void> {
  const { db, ledger, voucherKey, rules } = deps;
  /** The voucher in the path: its member must be in scope. */
  const voucherInPath = scope.of('params', 'code', 'voucher', [catalogErrors.VOUCHER_NOT_FOUND], async (code) => ({
    member: (await voucherOr404(db, String(code))).memberId,
  }));
  /** The coupon redemption in the path: its member must be in scope. */
  const couponRedemptionInPath = scope.of('params', 'txId', 'coupon redemption', [ledgerErrors.TRANSACTION_NOT_FOUND], async (txId) => {
    const found = await couponRedemptionByTx(db, String(txId));
    if (!found) throw couponRedemptionNotFound(String(txId));
    return { member: found.memberId };
  });

  app.get<{ Querystring: S.ItemsQuery }>(
    '/catalog/items',
    {
      config: { access: BROWSE, errors: [] },
      schema: {
        summary: 'Catalog items, newest first (?active=true for what members may browse)',
        tags: TAGS,
        querystring: S.ItemsQuery,
        response: { 200: Type.Array(S.CatalogItem) },
      },
    },
    async (request) => listItems(db, { activeOnly: request.query.active === 'true' }),
  );

  app.get<{ Params: S.ItemParams }>(
    '/catalog/items/:itemId',
    {
      config: { access: BROWSE, errors: [kernelErrors.NOT_FOUND] },
      schema: { summary: 'One catalog item with its stock', tags: TAGS, params: S.ItemParams, response: { 200: S.CatalogItem } },
    },
    async (request) => getItem(db, request.params.itemId),
  );

  app.post<{ Body: S.CreateItemBody }>(
    '/catalog/items',
    {
      config: { access: HQ_CATALOG, errors: [kernelErrors.INVALID_INPUT] },
      schema: {
        summary: 'Add an item to the catalog (admin or manager at HQ)',
        tags: TAGS,
        body: S.CreateItemBody,
        response: { 201: S.CatalogItem },
      },
    },
    async (request, reply) => {
      const item = await createItem(db, rules, { ...request.body, actor: operatorActor(request) });
      request.log.info({ itemId: item.id }, 'catalog item created');
      return reply.status(201).send(item);
    },
  );

  app.put<{ Params: S.ItemParams; Body: S.UpdateItemBody }>(
    '/catalog/items/:itemId',
    {
      config: { access: HQ_CATALOG, errors: [kernelErrors.INVALID_INPUT, kernelErrors.NOT_FOUND, kernelErrors.CONFLICT] },
      schema: {
        summary: "Replace an item's definition, not its stock (admin or manager at HQ; 409 CONFLICT if it changed since expectedVersion)",
        tags: TAGS,
        params: S.ItemParams,
        body: S.UpdateItemBody,
        response: { 200: S.CatalogItem },
      },
    },
    async (request) => {
      const item = await updateItem(db, rules, { ...request.body, itemId: request.params.itemId, actor: operatorActor(request) });
      request.log.info({ itemId: item.id, version: item.version }, 'catalog item updated');
      return item;
    },
  );

  app.post<{ Params: S.ItemParams; Body: S.StockAdjustmentBody }>(
    '/catalog/items/:itemId/stock-adjustments',
    {
      config: { access: { roles: MANAGER_ROLES, scope: [stockOwner] }, errors: [kernelErrors.INVALID_INPUT, kernelErrors.NOT_FOUND] },
      schema: {
        summary: 'Add or remove units: a store\'s stock (storeId, manager of that store) or chain-wide stock (manager at HQ)',
        tags: TAGS,
        params: S.ItemParams,
        body: S.StockAdjustmentBody,
        response: { 200: S.CatalogItem },
      },
    },
    async (request) => {
      const { storeId } = request.body;
      const item = await adjustStock(db, { ...request.body, itemId: request.params.itemId, actor: operatorActor(request) });
      request.log.info({ itemId: item.id, storeId, delta: request.body.delta }, 'catalog stock adjusted');
      return item;
    },
  );

  app.get<{ Params: S.ItemParams }>(
    '/catalog/items/:itemId/audit',
    {
      config: { access: { roles: MANAGER_ROLES, scope: scope.none('the catalog is the same at every store') }, errors: [kernelErrors.NOT_FOUND] },
      schema: { summary: 'Who changed an item, when and why', tags: TAGS, params: S.ItemParams, response: { 200: S.ItemAudit } },
    },
    async (request) => itemAudit(db, request.params.itemId),
  );

  app.post<{ Body: S.RedeemBody }>(
    '/catalog/redemptions',
    {
      config: {
        access: { roles: CATALOG_ROLES, scope: [scope.member('body'), AT_STORE] },
        errors: [...REDEMPTION_REFUSALS, kernelErrors.NOT_FOUND, kernelErrors.IDEMPOTENCY_CONFLICT],
      },
      schema: {
        summary: 'Redeem an item for a member: points (and cash part from stored value) and stock taken, signed voucher issued — atomically',
        description:
          'An item of kind coupon naming a coupon template issues that coupon instead of a voucher (used at checkout by its code). ' +
          '409: OUT_OF_STOCK, REDEMPTION_LIMIT_REACHED, ITEM_NOT_AVAILABLE (inactive, outside its window, tier, not at this store), ' +
          'INSUFFICIENT_POINTS, INSUFFICIENT_BALANCE, BUDGET_EXCEEDED, IDEMPOTENCY_CONFLICT, CONFLICT (item changed meanwhile: retry).',
        tags: TAGS,
        body: S.RedeemBody,
        response: S.RedeemResponses,
      },
    },
    async (request, reply) => {
      const { memberId, itemId, idempotencyKey } = request.body;
      const storeId = request.actingStoreId!;
      const { rules: current } = await rules.current();
      const result = await redeem({ db, ledger, voucherKey, rules: current }, { idempotencyKey, memberId, itemId, storeId, actor: operatorActor(request) });
      request.log.info({ memberId, itemId, storeId, txId: result.txId, replay: result.replay }, 'catalog item redeemed');
      return reply.status(result.replay ? 200 : 201).send(result);
    },
  );

  app.post<{ Params: S.RedemptionParams; Body: S.RefundVoucherBody }>(
    '/catalog/redemptions/:txId/refunds',
    {
      config: {
        access: { roles: MANAGER_ROLES, scope: [couponRedemptionInPath, scope.store()] },
        errors: [...REFUND_REFUSALS, couponErrors.COUPON_ALREADY_USED, couponErrors.COUPON_NOT_APPLICABLE],
      },
      schema: {
        summary: 'Refund a coupon redemption: points and cash part back, the unit back to stock, the coupon voided (admin or manager)',
        description:
          'For items that issued a coupon (a voucher is refunded with POST /vouchers/:code/refunds). ' +
          '409: COUPON_ALREADY_USED (refund the checkout that used it first), COUPON_NOT_APPLICABLE (expired), ALREADY_REFUNDED, IDEMPOTENCY_CONFLICT. ' +
          'A refusal changes nothing.',
        tags: TAGS,
        params: S.RedemptionParams,
        body: S.RefundVoucherBody,
        response: S.RefundRedemptionResponses,
      },
    },
    async (request, reply) => {
      const { txId } = request.params;
      const { refund, redemption } = await refundCouponRedemption(db, ledger, { ...request.body, txId, actor: operatorActor(request) });
      request.log.info({ txId, couponId: redemption.coupon.couponId, refundTxId: refund.txId, replay: refund.replay }, 'coupon redemption refunded');
      return reply
        .status(refund.replay ? 200 : 201)
        .send({ refundTxId: refund.txId, replay: refund.replay, member: refund.member, coupon: redemption.coupon });
    },
  );

  app.get<{ Params: MemberParams }>(
    '/members/:memberId/vouchers',
    {
      config: { access: { roles: CATALOG_ROLES, scope: [scope.member()] }, errors: [] },
      schema: {
        summary: "A member's vouchers, newest first",
        tags: TAGS,
        params: MemberParams,
        response: { 200: Type.Array(S.Voucher) },
      },
    },
    async (request) => memberVouchers(db, request.params.memberId),
  );

  app.get<{ Params: S.CodeParams }>(
    '/vouchers/:code',
    {
      config: { access: { roles: CATALOG_ROLES, scope: [voucherInPath] }, errors: [] },
      schema: { summary: 'A voucher by its code', tags: TAGS, params: S.CodeParams, response: { 200: S.Voucher } },
    },
    async (request) => voucherOr404(db, request.params.code),
  );

  app.post<{ Body: S.ScanBody }>(
    '/vouchers/verifications',
    {
      config: { access: { roles: CATALOG_ROLES, scope: [AT_STORE] }, errors: [] },
      schema: {
        summary: 'Check a scanned or typed voucher at a store without using it: signature, expiry, store, and whether it was used',
        description: 'A voucher that cannot be used is answered 200 with valid: false and the code it would be refused with.',
        tags: TAGS,
        body: S.ScanBody,
        response: { 200: S.Verification },
      },
    },
    async (request) => {
      return verifyAtHub(db, voucherKey, { voucher: request.body.voucher, storeId: request.actingStoreId! });
    },
  );

  app.post<{ Body: S.ScanBody }>(
    '/vouchers/write-offs',
    {
      config: {
        access: { roles: CATALOG_ROLES, scope: [AT_STORE] },
        errors: [
          catalogErrors.VOUCHER_INVALID,
          catalogErrors.VOUCHER_NOT_FOUND,
          catalogErrors.VOUCHER_ALREADY_USED,
          catalogErrors.VOUCHER_EXPIRED,
          catalogErrors.VOUCHER_WRONG_STORE,
        ],
      },
      schema: {
        summary: 'Write a voucher off (核销) at a store: exactly once, at the right store, before it expires',
        description: '409: VOUCHER_ALREADY_USED, VOUCHER_EXPIRED, VOUCHER_WRONG_STORE. 400: VOUCHER_INVALID (not a voucher, altered, another key).',
        tags: TAGS,
        body: S.ScanBody,
        response: { 200: S.Voucher },
      },
    },
    async (request) => {
      const storeId = request.actingStoreId!;
      const voucher = await writeOffVoucher(db, voucherKey, { voucher: request.body.voucher, storeId, actor: operatorActor(request) });
      request.log.info({ voucherId: voucher.voucherId, storeId }, 'voucher written off');
      return voucher;
    },
  );

  app.post<{ Params: S.CodeParams; Body: S.RefundVoucherBody }>(
    '/vouchers/:code/refunds',
    {
      config: {
        access: { roles: MANAGER_ROLES, scope: [voucherInPath, scope.store()] },
        errors: [...REFUND_REFUSALS, catalogErrors.VOUCHER_ALREADY_USED, catalogErrors.VOUCHER_EXPIRED],
      },
      schema: {
        summary: 'Refund an unused voucher: points and cash part back to the member, the unit back to stock (admin or manager)',
        description: '409: VOUCHER_ALREADY_USED (written off or refunded), VOUCHER_EXPIRED, ALREADY_REFUNDED, IDEMPOTENCY_CONFLICT. A refusal changes nothing.',
        tags: TAGS,
        params: S.CodeParams,
        body: S.RefundVoucherBody,
        response: S.RefundVoucherResponses,
      },
    },
    async (request, reply) => {
      const found = await voucherOr404(db, request.params.code);
      const { refund, voucher } = await refundVoucher(db, ledger, { ...request.body, code: found.code, actor: operatorActor(request) });
      request.log.info({ voucherId: voucher.voucherId, refundTxId: refund.txId, replay: refund.replay }, 'voucher refunded');
      return reply.status(refund.replay ? 200 : 201).send({ refundTxId: refund.txId, replay: refund.replay, member: refund.member, voucher });
    },
  );

  app.get(
    '/vouchers/signing-key',
    {
      config: { access: { roles: ALL_ROLES, scope: scope.none('a public key: the same for every store, secret to no one') }, errors: [] },
      schema: {
        summary: 'The public key kiosks and cashier terminals verify voucher signatures with, offline',
        tags: TAGS,
        response: { 200: S.SigningKey },
      },
    },
    async () => ({ algorithm: 'Ed25519' as const, keyId: voucherKey.keyId, publicKeyPem: voucherKey.publicKeyPem }),
  );

  app.post(
    '/jobs/voucher-expiry',
    {
      config: { access: { roles: ['admin'], levels: ['hq'], scope: scope.none('the job touches every store: headquarters only') }, errors: [] },
      schema: {
        summary: 'Expire issued vouchers past their expiry: points forfeited, units back to stock (admin at HQ)',
        tags: TAGS,
        response: { 200: S.ExpiryRun },
      },
    },
    async (request) => {
      const run = await expireVouchers(db);
      request.log.info(run, 'voucher expiry run');
      return run;
    },
  );
}

async function voucherOr404(db: Database, rawCode: string): Promise<Voucher> {
  const code = normalizeVoucherCode(rawCode);
  const voucher = code === null ? undefined : await voucherByCode(db, code);
  if (!voucher) throw voucherNotFound();
  return voucher;
}
