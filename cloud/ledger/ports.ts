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
    /** The card a member view names: the one used, else the member's main active card; undefined without a card. */
    shownCard(q: Queryable, memberId: string, usedCardUid?: string): Promise<{ cardUid: string; cardNumber?: string } | undefined>;
    /**
     * A posting presents this card: refuse it (a HubError) when the card is not the member's, or may not take value
     * (lost, frozen, over a daily limit), and record what it spent. Runs before the postings are written.
     */
    admit(tx: Queryable, presented: PresentedCard): Promise<void>;
  };
  readonly tiers: {
    /** The member's tier id. */
    tierOf(q: Queryable, memberId: string): Promise<string>;
    /**
     * A stored-value payment was just posted (txId): it counts towards the member's tier at once, in the same
     * transaction (upgrade immediately; downgrades wait for the review).
     */
    onStoredValueSpend(tx: Queryable, spend: { memberId: string; txId: string; at: Date; actor: Actor }): Promise<void>;
  };
}

export interface PresentedCard {
  txId: string;
  cardUid: string;
  memberId: string;
  storeId?: string;
  /** The transaction's final legs. */
  legs: readonly Leg[];
}
