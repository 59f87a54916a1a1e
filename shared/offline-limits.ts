/**
 * How much the kiosk may take on its own word while the hub cannot confirm anything — the way card
 * terminals bound offline risk: per transaction, per card per day, for the whole kiosk, and for how long.
 * Cash is safe in the box, but a member credited offline may be a card the hub has since blocked, and the
 * balance shown comes from a cache that ages; these caps bound that exposure.
 */
export interface OfflineLimits {
  perTransactionFen: number;
  perCardPerDayFen: number;
  /** Everything this kiosk holds unconfirmed. */
  perKioskTotalFen: number;
  /** After this long without the hub the cache is too old to serve members from. */
  maxOfflineHours: number;
}

/** What a kiosk runs with until the hub configures it (and what the hub's default configuration gives it). */
export const DEFAULT_OFFLINE_LIMITS: OfflineLimits = {
  perTransactionFen: 50_000,
  perCardPerDayFen: 100_000,
  perKioskTotalFen: 500_000,
  maxOfflineHours: 24,
};
