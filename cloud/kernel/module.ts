/**
 * The one shape of a hub module (docs/modules.md). `cloud/<module>/index.ts` exports a factory that gets the
 * shared services and returns the module's descriptor: its REST routes, its device operations, its jobs, its
 * error codes, the transactions it owns, the follow-ups it consumes, and start/stop. `cloud/hub.ts` builds the
 * services once and walks the list of modules: it registers every part, starts the modules in order and stops
 * them in reverse.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { Logger } from '../../shared/logger.ts';
import type { MemberSnapshot } from '../../shared/contract/payloads.ts';
import type { Database, Queryable } from '../db/database.ts';
import type { BrokerLink } from '../mqtt/broker-session.ts';
import type { Ledger } from '../ledger/index.ts';
import type { HubConfig } from '../config.ts';
import type { Actor } from './actor.ts';
import type { RulesStore } from '../program/index.ts';
import type { DeclaredCode } from './access.ts';
import type { ErrorCatalog } from './errors.ts';
import type { Outbox } from './outbox.ts';
import type { ScheduledJob } from './scheduler.ts';

export type Clock = () => Date;

/** What happens on the hub that another module may want to hear of, without either importing the other. */
export interface HubEventMap {
  /** Two transactions of one device claimed one sequence number (the device's numbering is broken). */
  'device.sequenceConflict': [deviceId: string];
}

export interface HubEvents {
  on<E extends keyof HubEventMap>(event: E, listener: (...args: HubEventMap[E]) => void): unknown;
  off<E extends keyof HubEventMap>(event: E, listener: (...args: HubEventMap[E]) => void): unknown;
  emit<E extends keyof HubEventMap>(event: E, ...args: HubEventMap[E]): boolean;
}

/** What every module gets: built once by the hub, before any module. */
export interface HubServices {
  readonly config: HubConfig;
  readonly db: Database;
  readonly ledger: Ledger;
  /** The published program rules (the program module's store): the one way every module reads them. */
  readonly rules: RulesStore;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Follow-ups that must happen after a commit, exactly once (kernel/outbox.ts). */
  readonly outbox: Outbox;
  readonly events: HubEvents;
  /** Absent when the hub runs without a device link (REST-only tools and tests). */
  readonly mqtt?: BrokerLink;
  /** Every module's device operations, filled in before any module starts (the device link dispatches to them). */
  readonly deviceOperations: DeviceOperationsRegistry;
}

/** The device operations of every module, by body kind and request op. */
export interface DeviceOperationsRegistry {
  transaction(kind: string): DeviceTransactionHandler | undefined;
  request(op: string): DeviceRequestHandler | undefined;
}

/** Who sent a device request, for the handler's answer and log lines. */
export interface DeviceContext {
  readonly deviceId: string;
  readonly logger: Logger;
}

/** A kiosk transaction as the gateway hands it over: validated against the contract, from the device it names. */
export interface DeviceTransactionInput {
  readonly txId: string;
  readonly seq: number;
  readonly deviceId: string;
  readonly body: { kind: string } & Record<string, unknown>;
}

/** The database transaction of one batch: every handler's writes commit together, before any ack leaves. */
export interface DeviceBatchContext {
  readonly tx: Queryable;
  readonly logger: Logger;
}

/** What became of one transaction of a batch. */
export type DeviceTransactionOutcome =
  | {
      readonly status: 'applied';
      /** True when its txId was applied before: the first result, nothing posted now. */
      readonly replay: boolean;
      readonly member: MemberSnapshot;
      /** Extra fields for the log line (never personal data). */
      readonly logged?: Record<string, unknown>;
      /** Something staff must look at although the transaction was posted (logged as a warning, counted by kind). */
      readonly anomaly?: { kind: string; detail: Record<string, unknown> };
    }
  /** Refused for good (a HubError below 500): it wrote nothing, and the kiosk gets the refusal as its ack. */
  | { readonly status: 'refused'; readonly error: unknown }
  /** Not decided in this batch (its txId is already used earlier in the same batch): it goes into the next one. */
  | { readonly status: 'deferred' };

/**
 * Writes prepared transactions inside the batch's database transaction: those of the prepared ones that may go
 * ahead (a transaction whose device sequence number belongs to another is left out), in order; resolves with one
 * outcome per transaction it was given, in the same order.
 */
export type DeviceBatchWriter = (transactions: readonly DeviceTransactionInput[], context: DeviceBatchContext) => Promise<DeviceTransactionOutcome[]>;

/**
 * A kiosk transaction kind (tx channel), applied exactly once by its txId. The gateway queues transactions and
 * hands them over in batches: first `prepareBatch`, outside any database transaction, then the writer it returns,
 * inside the one database transaction the gateway opens for the batch (with the device sequence claims and
 * settles) and commits before any ack is sent.
 */
export interface DeviceTransactionHandler {
  /**
   * Reads and computes what the batch needs without holding the database transaction (published rules, prices),
   * and returns the writer. A refusal must leave
   * nothing of its transaction written (check before writing, or undo it with a SAVEPOINT), so the rest of the
   * batch still commits. Throwing fails the whole batch: nothing is acknowledged, and the gateway tries the
   * transactions again one by one.
   */
  prepareBatch(transactions: readonly DeviceTransactionInput[], context: { logger: Logger }): Promise<DeviceBatchWriter>;
}

/** A kiosk request (req/<op> channel): resolves with the response data; a HubError below 500 is the error envelope. */
export interface DeviceRequestHandler {
  answer(request: Record<string, unknown>, context: DeviceContext): Promise<unknown>;
}

/** What a module handles of the device link, by body kind and by request op. */
export interface DeviceOperations {
  readonly transactions?: Readonly<Record<string, DeviceTransactionHandler>>;
  readonly requests?: Readonly<Record<string, DeviceRequestHandler>>;
}

/** Runs inside the transaction that consumes one follow-up; throwing leaves it queued for a retry. */
export type FollowUpHandler = (tx: Queryable, payload: unknown) => Promise<void>;

/**
 * Reverses, inside a refund's database transaction, what a module's transaction did beyond the ledger (stock,
 * coupons, vouchers…), or refuses the refund (a HubError): either way the money and the effects go together.
 */
export type Reverser = (tx: Queryable, refund: RefundContext) => Promise<void>;

/** A module's reverser and the codes it may refuse a refund with (every refund route lists them). */
export interface ReverserDeclaration {
  readonly reverse: Reverser;
  readonly refusals: readonly DeclaredCode[];
}

export interface RefundContext {
  readonly originalTxId: string;
  readonly refundTxId: string;
  readonly idempotencyKey: string;
  readonly actor: Actor;
  readonly reason: string;
  readonly storeId?: string;
}

/** The tables the kernel itself keeps (the migrations' own record, the outbox); every other table has one module. */
export const KERNEL_TABLES: readonly string[] = ['schema_migrations', 'outbox'];

export interface HubModule {
  /** Also the owner name on the transactions it posts. */
  readonly name: string;
  /** The tables it owns: only its own files name them in SQL; others go through its functions. */
  readonly tables: readonly string[];
  /** Its error codes (kernel/errors.ts defineErrors). */
  readonly errors?: ErrorCatalog;
  /** Its REST routes, registered as one encapsulated plugin under /api/v1; every route declares its access. */
  readonly routes?: FastifyPluginAsync;
  /** Routes outside the API prefix (a page); they declare their access too. */
  readonly pages?: FastifyPluginAsync;
  readonly deviceOperations?: DeviceOperations;
  /** Periodic jobs, run by the hub's scheduler in module order. */
  readonly jobs?: readonly ScheduledJob[];
  /** How the refund of each of its transactions reverses its effects; a transaction with no reverser is not refundable. */
  readonly reverser?: ReverserDeclaration;
  /** Outbox topics it consumes. */
  readonly followUps?: Readonly<Record<string, FollowUpHandler>>;
  start?(): Promise<void>;
  stop?(): Promise<void>;
}
