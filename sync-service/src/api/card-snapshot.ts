import type { DealSnapshot } from '@stagekeeper/shared';
import { withoutSlotWait } from '../hubspot/call';
import { HubSpotDailyLimitError, HubSpotUnavailableError } from '../hubspot/errors';
import { LaneBusy } from '../hubspot/limiter';

/**
 * The most a card waits for HubSpot before answering from what Stagekeeper has (issue #18): a rep opening a deal
 * during a bulk move gets the saved SLA state in well under the UI's patience instead of a 503 after 8 s.
 */
export const CARD_BUDGET_MS = 1_500;
/**
 * The usual budget is a multiple of this process's measured live-read latency (median of the last reads): a read
 * three times slower than usual means HubSpot (or the path to it) is busy, and the rep is better served by what
 * Stagekeeper has. Never below MIN_BUDGET_MS (timer granularity, a GC pause), never above CARD_BUDGET_MS.
 */
export const BUDGET_FACTOR = 3;
export const MIN_BUDGET_MS = 50;
/**
 * With a live read of the deal younger than REFRESH_AFTER_MS to fall back on, the card waits less: twice the
 * usual latency, at least FALLBACK_MIN_BUDGET_MS. That fallback shows HubSpot's values of seconds ago with their
 * time, nearly as good as a live read; without one the card would show the saved state alone (no checklist), which
 * is worth the longer wait. A rep re-opening deals during a bulk move then waits about as long as when idle
 * (issue #18: card p99 within 1.5x of idle).
 */
export const FALLBACK_BUDGET_FACTOR = 2;
export const FALLBACK_MIN_BUDGET_MS = 25;
const LATENCY_SAMPLES = 100;
/** Reads needed before the measured latency sets the budget; until then CARD_BUDGET_MS. */
const LATENCY_MIN_SAMPLES = 5;
/** Once HubSpot was found busy, cards answer at once for this long (one burst window), refreshing behind. */
export const BUSY_MS = 10_000;
/** While busy, a deal's recent read is refreshed in the background once it is older than this. */
export const REFRESH_AFTER_MS = 30_000;

/** Live reads kept per process, for the card to show while HubSpot is slow; bounded in number and age. */
const RECENT_MAX = 1_000;
const RECENT_TTL_MS = 10 * 60_000;

/**
 * Where the card's HubSpot view came from: `live` (read now), `recent` (this process's last live read of the
 * deal, at `asOf`), or `saved` (none: the card shows Stagekeeper's stored state alone, checklist not checked).
 */
export type CardFreshness = { source: 'live' | 'recent' | 'saved'; asOf: string | null };

/** Failures that mean "HubSpot is busy or away", not "this request is wrong". */
const isSlow = (err: unknown) =>
  err instanceof LaneBusy ||
  err instanceof HubSpotUnavailableError ||
  err instanceof HubSpotDailyLimitError ||
  err instanceof BudgetSpent;

class BudgetSpent extends Error {}

type Seen = { snapshot: DealSnapshot; at: number };

/**
 * The card's read of HubSpot (issue #18: card reads never queue behind bulk jobs). A live read takes a rate slot
 * only if one is free at once (the interactive lane, ahead of bulk work) and gets a budget from the latency this
 * process measures; past it, or with no slot, the card answers from the deal's recent live read or the saved
 * state, and for the next BUSY_MS every card answers that way at once while a background read (again only with a
 * free slot, at most one per deal, none while its recent read is younger than REFRESH_AFTER_MS) brings `recent`
 * up to date. A background read back within the budget ends the busy spell.
 */
export class CardSnapshots {
  private readonly recent = new Map<string, Seen>();
  private readonly latencies: number[] = [];
  private readonly refreshing = new Set<string>();
  private busyUntil = 0;
  private readonly maxBudgetMs: number;
  private readonly elapsed: () => number;

  /** `elapsed`: a monotonic ms counter for latencies (performance.now; tests drive it). */
  constructor(
    private readonly clock: () => number,
    opts: { maxBudgetMs?: number; elapsed?: () => number } = {},
  ) {
    this.maxBudgetMs = opts.maxBudgetMs ?? CARD_BUDGET_MS;
    this.elapsed = opts.elapsed ?? (() => performance.now());
  }

  /** How long a card waits for a live read now (ms); `fallback`: a recent live read of the deal is there to show. */
  budget(fallback = false): number {
    if (this.latencies.length < LATENCY_MIN_SAMPLES) return this.maxBudgetMs;
    const sorted = [...this.latencies].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    const [factor, min] = fallback
      ? [FALLBACK_BUDGET_FACTOR, FALLBACK_MIN_BUDGET_MS]
      : [BUDGET_FACTOR, MIN_BUDGET_MS];
    return Math.min(this.maxBudgetMs, Math.max(min, factor * median));
  }

  /**
   * For a card of this deal now: `budget`, past which HubSpot counts as busy, and `wait`, how long this card waits
   * for its live read (less while a recent read of the deal can stand in).
   */
  waits(portalId: string, dealId: string): { budget: number; wait: number } {
    const seen = this.seen(`${portalId}:${dealId}`);
    const budget = this.budget();
    return {
      budget,
      wait: Math.min(budget, this.budget(!!seen && this.clock() - seen.at <= REFRESH_AFTER_MS)),
    };
  }

  /** HubSpot was found busy (no free slot, or slower than the budget) within the last BUSY_MS. */
  busy(): boolean {
    return this.clock() < this.busyUntil;
  }

  async read(
    portalId: string,
    dealId: string,
    live: () => Promise<DealSnapshot>,
  ): Promise<{ snapshot: DealSnapshot | null; freshness: CardFreshness }> {
    const key = `${portalId}:${dealId}`;
    if (this.busy()) {
      const seen = this.seen(key);
      if (!seen || this.clock() - seen.at > REFRESH_AFTER_MS) this.refresh(key, live);
      return this.fallback(seen);
    }
    const { budget, wait } = this.waits(portalId, dealId);
    let timer: NodeJS.Timeout | undefined;
    const spent = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new BudgetSpent()), wait);
    });
    // Past the wait the read still lands in `recent` (it already holds its slot), for the next card.
    const reading = this.liveRead(key, live, budget);
    reading.catch(() => undefined);
    try {
      const { snapshot, at } = (await Promise.race([reading, spent])).seen;
      return { snapshot, freshness: { source: 'live', asOf: new Date(at).toISOString() } };
    } catch (err) {
      if (!isSlow(err)) throw err;
      // Past the shorter wait alone HubSpot is not known to be busy yet: the read goes on, and says so if it is.
      if (!(err instanceof BudgetSpent && wait < budget)) this.busyUntil = this.clock() + BUSY_MS;
      return this.fallback(this.seen(key));
    } finally {
      clearTimeout(timer);
    }
  }

  /** A live read that takes a rate slot only if one is free now; remembered, and its latency measured. */
  private async liveRead(
    key: string,
    live: () => Promise<DealSnapshot>,
    budget: number,
  ): Promise<{ seen: Seen; inBudget: boolean }> {
    const t0 = this.elapsed();
    const snapshot = await withoutSlotWait(live);
    const ms = this.elapsed() - t0;
    const seen = { snapshot, at: this.clock() };
    this.remember(key, seen);
    this.latencies.push(ms);
    if (this.latencies.length > LATENCY_SAMPLES) this.latencies.shift();
    if (ms > budget) this.busyUntil = Math.max(this.busyUntil, this.clock() + BUSY_MS);
    return { seen, inBudget: ms <= budget };
  }

  /** A background read while busy: one per deal at a time; back within the budget, the busy spell is over. */
  private refresh(key: string, live: () => Promise<DealSnapshot>): void {
    if (this.refreshing.has(key)) return;
    this.refreshing.add(key);
    this.liveRead(key, live, this.budget())
      .then(
        ({ inBudget }) => {
          if (inBudget) this.busyUntil = 0;
        },
        (err: unknown) => {
          if (isSlow(err)) this.busyUntil = Math.max(this.busyUntil, this.clock() + BUSY_MS);
        },
      )
      .finally(() => this.refreshing.delete(key));
  }

  private seen(key: string): Seen | undefined {
    const seen = this.recent.get(key);
    return seen && this.clock() - seen.at <= RECENT_TTL_MS ? seen : undefined;
  }

  private fallback(seen: Seen | undefined): { snapshot: DealSnapshot | null; freshness: CardFreshness } {
    return seen
      ? { snapshot: seen.snapshot, freshness: { source: 'recent', asOf: new Date(seen.at).toISOString() } }
      : { snapshot: null, freshness: { source: 'saved', asOf: null } };
  }

  private remember(key: string, seen: Seen): void {
    // Oldest first out: a Map iterates in insertion order, and a re-read moves the deal to the end.
    this.recent.delete(key);
    this.recent.set(key, seen);
    if (this.recent.size > RECENT_MAX) this.recent.delete(this.recent.keys().next().value!);
  }
}
