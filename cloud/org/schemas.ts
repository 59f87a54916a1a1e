import { Type, type Static } from '@sinclair/typebox';
import { orgCode } from '../http/schemas.ts';
import { ROLES, SCOPE_LEVELS } from '../kernel/principal.ts';
import { STORE_KINDS } from './structure.ts';

/** Request and response schemas of the organisation routes (regions, stores, operators, /me). */

const strict = { additionalProperties: false } as const;
const literals = <T extends string>(values: readonly T[]) => Type.Union(values.map((value) => Type.Literal(value)));

const Name = Type.String({ minLength: 1, maxLength: 64 });
const Reason = Type.String({ minLength: 1, maxLength: 200, description: 'Why — kept in the audit trail' });
const RegionId = orgCode('Region code, e.g. east');
const StoreId = orgCode('Store code, e.g. sh-xuhui');

export const Region = Type.Object({ regionId: RegionId, name: Name }, strict);
export const RegionList = Type.Object({ regions: Type.Array(Region) }, strict);
export const CreateRegionBody = Type.Object({ regionId: RegionId, name: Name, reason: Reason }, strict);
export type CreateRegionBody = Static<typeof CreateRegionBody>;

export const Store = Type.Object(
  {
    storeId: StoreId,
    regionId: RegionId,
    name: Name,
    kind: literals(STORE_KINDS),
    timeZone: Type.String({ description: 'IANA time zone, e.g. Asia/Shanghai' }),
  },
  strict,
);
export const StoreList = Type.Object({ stores: Type.Array(Store) }, strict);
export const CreateStoreBody = Type.Object(
  {
    storeId: StoreId,
    regionId: RegionId,
    name: Name,
    kind: literals(STORE_KINDS),
    timeZone: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'IANA time zone; default Asia/Shanghai' })),
    reason: Reason,
  },
  strict,
);
export type CreateStoreBody = Static<typeof CreateStoreBody>;

const Scope = Type.Object(
  {
    level: literals(SCOPE_LEVELS),
    id: Type.String({ minLength: 1, maxLength: 40, description: '"hq", or the region or store code' }),
  },
  strict,
);

const principalFields = {
  operatorId: Type.String({ format: 'uuid' }),
  name: Name,
  role: literals(ROLES),
  scope: Scope,
};
export const Me = Type.Object(principalFields, { ...strict, description: 'The signed-in operator' });
export const Operator = Type.Object(
  { ...principalFields, active: Type.Boolean(), createdAt: Type.String({ format: 'date-time' }) },
  strict,
);
export const OperatorList = Type.Object({ operators: Type.Array(Operator) }, strict);
export const CreateOperatorBody = Type.Object({ name: Name, role: literals(ROLES), scope: Scope, reason: Reason }, strict);
export type CreateOperatorBody = Static<typeof CreateOperatorBody>;
export const CreatedOperator = Type.Object(
  {
    operator: Operator,
    token: Type.String({ description: 'The bearer token. Shown only now: the hub keeps only its hash.' }),
  },
  strict,
);
export const OperatorParams = Type.Object({ operatorId: Type.String({ format: 'uuid' }) }, strict);
export type OperatorParams = Static<typeof OperatorParams>;
export const ReasonBody = Type.Object({ reason: Reason }, strict);
export type ReasonBody = Static<typeof ReasonBody>;

export const SettlementQuery = Type.Object(
  {
    from: Type.String({ format: 'date-time', description: 'Start instant, inclusive, e.g. 2026-11-01T00:00:00+08:00' }),
    to: Type.String({ format: 'date-time', description: 'End instant, exclusive' }),
  },
  strict,
);
export type SettlementQuery = Static<typeof SettlementQuery>;

const Fen = (description: string) => Type.Integer({ description });
export const SettlementReport = Type.Object(
  {
    from: Type.String({ format: 'date-time' }),
    to: Type.String({ format: 'date-time' }),
    lines: Type.Array(
      Type.Object(
        {
          storeId: Type.Union([StoreId, Type.Null()], { description: 'null: transactions recorded without a store' }),
          storeKind: Type.Union([literals(STORE_KINDS), Type.Null()]),
          internal: Type.Boolean({ description: 'Direct store: an internal transfer, not an invoice' }),
          cashInFen: Fen('Cash taken for top-ups'),
          cashOutFen: Fen('Cash handed back on refunds'),
          principalSpentFen: Fen('Stored principal spent here (net of refunds)'),
          bonusSpentFen: Fen('Bonus spent here: promotion cost, reimbursed by HQ'),
          netFen: Fen('Positive: the store owes HQ; negative: HQ owes the store'),
          direction: literals(['store_owes_hq', 'hq_owes_store', 'even'] as const),
        },
        strict,
      ),
    ),
    totals: Type.Object(
      {
        cashInFen: Type.Integer(),
        cashOutFen: Type.Integer(),
        principalSpentFen: Type.Integer(),
        bonusSpentFen: Fen("The period's promotion cost, borne by HQ"),
        netFen: Fen('Sum of the lines; equals principalFloatChangeFen − bonusSpentFen'),
        principalFloatChangeFen: Fen('Growth of the stored principal members hold'),
        franchiseOwesHqFen: Type.Integer({ minimum: 0 }),
        hqOwesFranchiseFen: Type.Integer({ minimum: 0 }),
      },
      strict,
    ),
  },
  { ...strict, description: 'Per-store settlement for the period; amounts in fen' },
);
