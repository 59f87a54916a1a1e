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
     * The card a member view names — the one used, else the member's main active card — as SQL: a subquery of at
     * most one row with columns shown_card_uid and shown_card_number, over the SQL expressions it is given (a column
     * of the enclosing statement), so readMembers reads members, cards and tiers in one statement.
     */
    shownCardSql(memberId: string, usedCardUid: string): string;
    /**
     * Postings present these cards: each one's refusal (a HubError) when the card is not the member's, or may not
     * take value (lost, frozen, over a daily limit), else undefined — and what the admitted ones spent is recorded.
     * Runs before the postings are written; in order, so a card presented twice has its limit checked cumulatively.
     */
    admit(tx: Queryable, presented: readonly PresentedCard[]): Promise<Array<Error | undefined>>;
  };
  readonly tiers: {
    /** A member's tier as SQL, as shownCardSql: a subquery of at most one row, whose columns tierOf reads. */
    tierSql(memberId: string): string;
    /** The tier id a member view shows, from the columns of tierSql (all null when it had no row). */
    tierOf(row: object): string;
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

export interface PresentedCard {
  txId: string;
  cardUid: string;
  memberId: string;
  storeId?: string;
  /** The transaction's final legs. */
  legs: readonly Leg[];
}
