import { Type, type Static } from '@sinclair/typebox';
import { orgCode } from './structure.ts';
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
