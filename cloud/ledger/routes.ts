import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { expiryWarningText } from '../../shared/rules/points-expiry.ts';
import type { Database } from '../db/database.ts';
import { kernelErrors } from '../kernel/errors.ts';
import { orgCode } from '../org/index.ts';
import * as S from './schemas.ts';
import { operatorActor, scope, type DeclaredCode, type OperatorAccess } from '../kernel/access.ts';
import type { RulesStore } from '../program/index.ts';
import type { Role } from '../kernel/principal.ts';
import { DEFAULT_TIME_ZONE, getStore } from '../org/index.ts';
import { ledgerErrors } from './errors.ts';
import type { Ledger, MovementInput } from './ledger.ts';
import { profileOf } from './members.ts';
import { expirePoints, pointsExpiringSoon, pointsLots } from './points-expiry-job.ts';
import type { PostedTransaction } from './posting.ts';
import { originalOf } from './refunds.ts';

/**
 * The ledger over REST: members, stored-value and points movements, statements, refunds, points lots and the
 * points expiry job. Technicians look after kiosks, not members, so they see no member data; discretionary
 * points grants and refunds (money back) are for managers and admins.
 */
const MEMBER_ROLES: readonly Role[] = ['admin', 'manager', 'cashier'];
const MANAGERS: readonly Role[] = ['admin', 'manager'];
const TAG = 'ledger';

const memberAccess = (roles: readonly Role[] = MEMBER_ROLES): OperatorAccess => ({ roles, scope: [scope.member()] });
/** A movement: the member in the path, acting at the body's store or the operator's own. */
const movementAccess = (roles: readonly Role[]): OperatorAccess => ({ roles, scope: [scope.member(), scope.actingStore()] });

/** Every movement checks its text fields (a reason of blanks) and may replay a key used for another request. */
const MOVEMENT_REFUSALS = [kernelErrors.INVALID_INPUT, kernelErrors.IDEMPOTENCY_CONFLICT];

const strict = { additionalProperties: false } as const;
const Uuid = Type.String({ format: 'uuid' });

const TxParams = Type.Object({ txId: Type.String({ minLength: 1, maxLength: 64, description: 'The transaction to refund' }) }, strict);
type TxParams = Static<typeof TxParams>;

const RefundBody = Type.Object(
  {
    idempotencyKey: Type.String({ minLength: 8, maxLength: 100, description: 'Unique per refund request; a resend returns the first result' }),
    reason: Type.String({ minLength: 1, maxLength: 200, description: 'Why the money goes back (kept with the refund)' }),
    storeId: Type.Optional(orgCode("The store handing the money back. Defaults to the operator's store; must be in scope.")),
  },
  strict,
);
type RefundBody = Static<typeof RefundBody>;

const refunded = (description: string) =>
  Type.Object({ txId: Uuid, replay: Type.Boolean(), member: S.Member, originalTxId: Uuid }, { ...strict, description });

const Lot = Type.Object(
  {
    lotId: Uuid,
    awardTxId: Type.Union([Uuid, Type.Null()], { description: 'The transaction that awarded it; null for balances from before lots' }),
    awardedAt: Type.String({ format: 'date-time' }),
    points: Type.Integer({ description: 'Awarded' }),
    remaining: Type.Integer({ description: 'Still usable' }),
    expiresAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'null = never expires' }),
  },
  strict,
);

const ExpiringQuery = Type.Object(
  { withinDays: Type.Optional(Type.Integer({ minimum: 0, maximum: 3660, default: 30, description: 'Look-ahead in 24-hour days' })) },
  strict,
);
type ExpiringQuery = Static<typeof ExpiringQuery>;

const Expiring = Type.Object(
  {
    memberId: Uuid,
    points: Type.Integer({ description: 'Points that expire within the look-ahead' }),
    batches: Type.Array(Type.Object({ expiresAt: Type.String({ format: 'date-time' }), points: Type.Integer() }, strict)),
    message: Type.Optional(Type.String({ description: "Bilingual warning for the member, dated in the home store's time zone" })),
  },
  strict,
);

const ExpiryBody = Type.Object(
  { asOf: Type.Optional(Type.String({ format: 'date-time', description: 'Expire lots due at or before this instant; default now' })) },
  strict,
);
type ExpiryBody = Static<typeof ExpiryBody>;

const ExpiryRunSchema = Type.Object(
  {
    asOf: Type.String({ format: 'date-time' }),
    expiredLots: Type.Integer(),
    expiredPoints: Type.Integer(),
    skippedLots: Type.Integer({ description: 'Lots that changed while the run went (another run or a spend); the next run sees them' }),
  },
  strict,
);

export interface LedgerRouteDeps {
  db: Database;
  ledger: Ledger;
  rules: RulesStore;
}

/** POST routes that move value share one shape: member in the path, idempotent body, 201 first / 200 replay. */
function movementRoute<B extends { idempotencyKey: string; storeId?: string }>(
  app: FastifyInstance,
  route: { path: string; summary: string; body: TSchema; roles: readonly Role[]; errors: readonly DeclaredCode[] },
  apply: (input: MovementInput & B) => Promise<PostedTransaction>,
): void {
  app.post<{ Params: S.MemberParams; Body: B }>(
    `/members/:memberId/${route.path}`,
    {
      config: { access: movementAccess(route.roles), errors: [...MOVEMENT_REFUSALS, ...route.errors] },
      schema: {
        summary: route.summary,
        tags: [TAG],
        params: S.MemberParams,
        body: route.body,
        response: S.PostedResponses,
      },
    },
    async (request, reply) => {
      const { memberId } = request.params;
      const body = request.body as B;
      const storeId = request.actingStoreId;
      const result = await apply({ ...body, memberId, actor: operatorActor(request), ...(storeId === undefined ? {} : { storeId }) });
      request.log.info({ memberId, storeId, txId: result.txId, replay: result.replay }, route.summary);
      return reply.status(result.replay ? 200 : 201).send(result);
    },
  );
}

export function registerLedgerRoutes(app: FastifyInstance, { db, ledger, rules: program }: LedgerRouteDeps): void {
  app.post<{ Body: S.CreateMemberBody }>(
    '/members',
    {
      config: { access: { roles: MEMBER_ROLES, scope: [scope.actingStore({ required: true })] }, errors: [kernelErrors.INVALID_INPUT] },
      schema: {
        summary: "Register a member at a home store (the body's storeId, else the operator's store)",
        tags: ['members'],
        body: S.CreateMemberBody,
        response: { 201: S.Member },
      },
    },
    async (request, reply) => {
      const { storeId: _acting, ...details } = request.body;
      const homeStoreId = request.actingStoreId!;
      const member = await ledger.createMember({ ...details, homeStoreId, actor: operatorActor(request) });
      request.log.info({ memberId: member.memberId, homeStoreId }, 'member created');
      return reply.status(201).send(member);
    },
  );

  app.get<{ Params: S.MemberParams }>(
    '/members/:memberId',
    {
      config: { access: memberAccess(), errors: [] },
      schema: { summary: 'A member with balances', tags: ['members'], params: S.MemberParams, response: { 200: S.Member } },
    },
    async (request) => ledger.getMember(request.params.memberId),
  );

  // Each movement is priced with the program rules published at the moment it is made.
  const movement = { body: S.StoredValueBody, roles: MEMBER_ROLES };
  movementRoute<S.StoredValueBody>(app, { ...movement, path: 'topups', summary: 'Cash top-up of stored value (with the top-up bonus in force)', errors: [] }, async (input) => {
    const { rules } = await program.current();
    return ledger.topUpCash({ ...input, bonusRules: rules.topUpBonus, pointsExpiry: rules.pointsExpiry });
  });
  movementRoute<S.StoredValueBody>(
    app,
    { ...movement, path: 'payments', summary: "Pay with stored value (principal and bonus in the program's spending order)", errors: [ledgerErrors.INSUFFICIENT_BALANCE] },
    async (input) => ledger.payWithStoredValue({ ...input, spendingOrder: (await program.current()).rules.spendingOrder }),
  );
  movementRoute<S.PointsAdjustmentBody>(
    app,
    {
      path: 'points-adjustments',
      summary: 'Grant or take back points (manager or admin)',
      body: S.PointsAdjustmentBody,
      roles: MANAGERS,
      errors: [ledgerErrors.INVALID_AMOUNT, ledgerErrors.INSUFFICIENT_POINTS],
    },
    async (input) => ledger.adjustPoints({ ...input, pointsExpiry: (await program.current()).rules.pointsExpiry }),
  );
  movementRoute<S.RedemptionBody>(
    app,
    { path: 'redemptions', summary: 'Redeem points for an item', body: S.RedemptionBody, roles: MEMBER_ROLES, errors: [ledgerErrors.INSUFFICIENT_POINTS] },
    (input) => ledger.redeemPoints(input),
  );

  app.get<{ Params: S.MemberParams; Querystring: S.StatementQuery }>(
    '/members/:memberId/statement',
    {
      config: { access: memberAccess(), errors: [] },
      schema: {
        summary: "The member's latest ledger entries, newest first",
        tags: [TAG],
        params: S.MemberParams,
        querystring: S.StatementQuery,
        response: { 200: S.StatementResponse },
      },
    },
    async (request) => ledger.statement(request.params.memberId, { limit: request.query.limit }),
  );

  app.post<{ Params: TxParams; Body: RefundBody }>(
    '/transactions/:txId/refunds',
    {
      config: {
        access: {
          roles: MANAGERS,
          scope: [
            scope.of('params', 'txId', 'transaction', [ledgerErrors.TRANSACTION_NOT_FOUND], async (txId) => ({ member: (await originalOf(db, txId)).member_id })),
            scope.actingStore(),
          ],
        },
        errors: [...MOVEMENT_REFUSALS, ledgerErrors.NOT_REFUNDABLE, ledgerErrors.ALREADY_REFUNDED, ...ledger.reverserRefusals()],
      },
      schema: {
        summary: 'Refund a transaction exactly once, with everything it did beyond the ledger (top-up: principal only, bonus and points reversed)',
        description:
          'Posts the exact reverse of a top-up, payment, checkout, redemption or card fee. A top-up returns its principal ' +
          'less any of its bonus already spent; points it took go back to their lots, points it awarded are taken back. ' +
          'What the transaction did beyond the ledger is reversed in the same database transaction by the module that owns it ' +
          '(a checkout: its coupon back; a voucher: its stock back; a catalog coupon: voided, stock back), or the refund is refused. ' +
          'Refused: a refund (NOT_REFUNDABLE), an already refunded transaction (ALREADY_REFUNDED), unknown id (TRANSACTION_NOT_FOUND), ' +
          'a used or expired voucher (VOUCHER_ALREADY_USED, VOUCHER_EXPIRED) or catalog coupon (COUPON_ALREADY_USED, COUPON_NOT_APPLICABLE), ' +
          'a coupon bought with points (NOT_REFUNDABLE).',
        tags: [TAG],
        params: TxParams,
        body: RefundBody,
        response: {
          201: refunded('Refunded now'),
          200: refunded('Already refunded under this idempotency key: the first result, unchanged'),
        },
      },
    },
    async (request, reply) => {
      const storeId = request.actingStoreId;
      const result = await ledger.refund({
        originalTxId: request.params.txId,
        idempotencyKey: request.body.idempotencyKey,
        reason: request.body.reason,
        actor: operatorActor(request),
        ...(storeId === undefined ? {} : { storeId }),
      });
      request.log.info({ originalTxId: result.originalTxId, txId: result.txId, replay: result.replay }, 'refund');
      return reply.status(result.replay ? 200 : 201).send(result);
    },
  );

  app.get<{ Params: S.MemberParams }>(
    '/members/:memberId/points-lots',
    {
      config: { access: memberAccess(), errors: [] },
      schema: {
        summary: "A member's points lots that still hold points, soonest-expiring first",
        tags: [TAG],
        params: S.MemberParams,
        response: { 200: Type.Object({ memberId: Uuid, lots: Type.Array(Lot) }, strict) },
      },
    },
    async (request) => pointsLots(db, request.params.memberId),
  );

  app.get<{ Params: S.MemberParams; Querystring: ExpiringQuery }>(
    '/members/:memberId/points-lots/expiring-soon',
    {
      config: { access: memberAccess(), errors: [] },
      schema: {
        summary: 'Points that expire within the next N days, with the warning to show the member',
        tags: [TAG],
        params: S.MemberParams,
        querystring: ExpiringQuery,
        response: { 200: Expiring },
      },
    },
    async (request) => {
      const { memberId } = request.params;
      const soon = await pointsExpiringSoon(db, memberId, request.query.withinDays ?? 30);
      const message = expiryWarningText(soon, await homeTimeZone(db, memberId));
      return {
        memberId: soon.memberId,
        points: soon.points,
        batches: soon.batches.map((b) => ({ expiresAt: b.expiresAt.toISOString(), points: b.points })),
        ...(message === undefined ? {} : { message }),
      };
    },
  );

  app.post<{ Body: ExpiryBody }>(
    '/jobs/points-expiry',
    {
      config: { access: { roles: ['admin'], levels: ['hq'], scope: scope.none('the job touches every store: headquarters only') }, errors: [] },
      schema: {
        summary: 'Run the points expiry job now (HQ admin); safe to repeat',
        tags: [TAG],
        body: ExpiryBody,
        response: { 200: ExpiryRunSchema },
      },
    },
    async (request) => {
      const asOf = request.body?.asOf === undefined ? new Date() : new Date(request.body.asOf);
      return expirePoints(db, ledger, { asOf, logger: request.log });
    },
  );
}

/** The member's home store's time zone: the calendar their warnings are dated in. */
async function homeTimeZone(db: Database, memberId: string): Promise<string> {
  const { homeStoreId } = await profileOf(db, memberId);
  const home = homeStoreId === null ? undefined : await getStore(db, homeStoreId);
  return home?.timeZone ?? DEFAULT_TIME_ZONE;
}
