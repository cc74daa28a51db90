import type { DealSnapshot } from '@stagekeeper/shared';
import { withDeadline } from '../hubspot/call';
import { HubSpotDailyLimitError, HubSpotUnavailableError } from '../hubspot/errors';
import { LaneBusy } from '../hubspot/limiter';

/**
 * How long a card waits for HubSpot before answering from what Stagekeeper has (issue #18): a rep opening a deal
 * during a bulk move gets the saved SLA state in well under the UI's patience instead of a 503 after 8 s.
 */
export const CARD_BUDGET_MS = 1_500;

/** Live reads kept per process, for the card to show while HubSpot is slow; bounded in number and age. */
const RECENT_MAX = 1_000;
const RECENT_TTL_MS = 10 * 60_000;

/**
 * Where the card's HubSpot view came from: `live` (read now), `recent` (this process's last live read of the
 * deal, at `asOf`), or `saved` (none: the card shows Stagekeeper's stored state alone, checklist unmet).
 */
export type CardFreshness = { source: 'live' | 'recent' | 'saved'; asOf: string | null };

/** Failures that mean "HubSpot is busy or away", not "this request is wrong". */
const isSlow = (err: unknown) =>
  err instanceof LaneBusy ||
  err instanceof HubSpotUnavailableError ||
  err instanceof HubSpotDailyLimitError ||
  err instanceof BudgetSpent;

class BudgetSpent extends Error {}

/**
 * The card's read of HubSpot under a budget: the live snapshot when it comes in time, else the deal's recent
 * live read, else none (buildCardView then works from the saved state). The live read carries the budget as
 * its deadline (hubspot/call.ts withDeadline), so once the card has answered it takes no rate slot.
 */
export class CardSnapshots {
  private readonly recent = new Map<string, { snapshot: DealSnapshot; at: number }>();

  constructor(
    private readonly clock: () => number,
    private readonly budgetMs = CARD_BUDGET_MS,
  ) {}

  async read(
    portalId: string,
    dealId: string,
    live: () => Promise<DealSnapshot>,
  ): Promise<{ snapshot: DealSnapshot | null; freshness: CardFreshness }> {
    const key = `${portalId}:${dealId}`;
    let timer: NodeJS.Timeout | undefined;
    const budget = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new BudgetSpent()), this.budgetMs);
    });
    const reading = withDeadline(Date.now() + this.budgetMs, live);
    // Settled later or never: its outcome no longer matters once the budget is spent.
    reading.catch(() => undefined);
    try {
      const snapshot = await Promise.race([reading, budget]);
      const at = this.clock();
      this.remember(key, snapshot, at);
      return { snapshot, freshness: { source: 'live', asOf: new Date(at).toISOString() } };
    } catch (err) {
      if (!isSlow(err)) throw err;
      const seen = this.recent.get(key);
      if (seen && this.clock() - seen.at <= RECENT_TTL_MS)
        return {
          snapshot: seen.snapshot,
          freshness: { source: 'recent', asOf: new Date(seen.at).toISOString() },
        };
      return { snapshot: null, freshness: { source: 'saved', asOf: null } };
    } finally {
      clearTimeout(timer);
    }
  }

  private remember(key: string, snapshot: DealSnapshot, at: number): void {
    // Oldest first out: a Map iterates in insertion order, and a re-read moves the deal to the end.
    this.recent.delete(key);
    this.recent.set(key, { snapshot, at });
    if (this.recent.size > RECENT_MAX) this.recent.delete(this.recent.keys().next().value!);
  }
}
