import type { Queryable } from '../db/database.ts';
import type { Actor } from '../kernel/actor.ts';
import type { Leg } from './legs.ts';

/**
 * What the ledger asks of its neighbours, wired in by the hub (cloud/hub.ts) so that the ledger imports neither:
 * the cards module owns the cards, the program module the tiers. Every function runs on the `q` it is given —
 * inside a posting that is the posting's transaction, which holds the member lock.
 */
export interface LedgerPorts {
  readonly cards: {
    /**
     * The card each member view names, in order: the one used, else the member's main active card; undefined
     * without a card. One statement for all of them (a batch of top-ups answers each with its member).
     */
    shownCards(q: Queryable, wanted: readonly ShownCardQuery[]): Promise<Array<ShownCard | undefined>>;
    /**
     * Postings present these cards: each one's refusal (a HubError) when the card is not the member's, or may not
     * take value (lost, frozen, over a daily limit), else undefined — and what the admitted ones spent is recorded.
     * Runs before the postings are written; in order, so a card presented twice has its limit checked cumulatively.
     */
    admit(tx: Queryable, presented: readonly PresentedCard[]): Promise<Array<Error | undefined>>;
  };
  readonly tiers: {
    /** Each member's tier id, in one statement. */
    tiersOf(q: Queryable, memberIds: readonly string[]): Promise<Map<string, string>>;
    /**
     * A stored-value payment was just posted (txId): it counts towards the member's tier at once, in the same
     * transaction (upgrade immediately; downgrades wait for the review).
     */
    onStoredValueSpend(tx: Queryable, spend: { memberId: string; txId: string; at: Date; actor: Actor }): Promise<void>;
  };
}

export interface ShownCardQuery {
  memberId: string;
  usedCardUid?: string;
}

export interface ShownCard {
  cardUid: string;
  cardNumber?: string;
}

export interface PresentedCard {
  txId: string;
  cardUid: string;
  memberId: string;
  storeId?: string;
  /** The transaction's final legs. */
  legs: readonly Leg[];
}
