import type { DealSnapshot } from '@stagekeeper/shared';
import { snap } from '@stagekeeper/shared/engine/fixtures';
import { describe, expect, it } from 'vitest';
import { callNoSlotWait } from '../hubspot/call';
import { LaneBusy } from '../hubspot/limiter';
import {
  BUDGET_FACTOR,
  BUSY_MS,
  CardSnapshots,
  FALLBACK_BUDGET_FACTOR,
  FALLBACK_MIN_BUDGET_MS,
  MIN_BUDGET_MS,
  REFRESH_AFTER_MS,
} from './card-snapshot';

// Issue 18: card reads never queue behind bulk jobs, and answer at once from what Stagekeeper has while HubSpot is
// busy. Time is driven by the test (clock and latency counter) except the budget's timer, which is made so long
// (a minute) that no test waits on it.
const T0 = Date.parse('2026-11-23T10:00:00Z');
const P = '1111111';
const D = '501';

function setup() {
  let now = T0;
  let elapsed = 0;
  const cards = new CardSnapshots(() => now, { maxBudgetMs: 60_000, elapsed: () => elapsed });
  /** A live read that takes `ms` of the test's latency counter, or fails with `err`. */
  const live =
    (ms = 0, err?: Error) =>
    async (): Promise<DealSnapshot> => {
      calls.push(callNoSlotWait.getStore() === true);
      elapsed += ms;
      if (err) throw err;
      return snap({ dealId: D, properties: { n: String(calls.length) } });
    };
  const calls: boolean[] = [];
  return {
    cards,
    live,
    calls,
    advance: (ms: number) => (now += ms),
    get now() {
      return now;
    },
  };
}

/** Lets background reads (already resolved fakes) finish. */
const settle = () => new Promise((r) => setImmediate(r));

describe('CardSnapshots', () => {
  it('reads live, taking a rate slot only if one is free at once', async () => {
    const t = setup();
    const r = await t.cards.read(P, D, t.live());
    expect(r.freshness).toEqual({ source: 'live', asOf: new Date(T0).toISOString() });
    expect(t.calls).toEqual([true]);
  });

  it('no free slot: the saved state at once, and the next cards answer at once while a read refreshes behind', async () => {
    const t = setup();
    expect((await t.cards.read(P, D, t.live(0, new LaneBusy(3_000)))).freshness.source).toBe('saved');
    expect(t.cards.busy()).toBe(true);
    // Busy: no waiting on HubSpot; this card is answered from what there is, one background read starts.
    const slow = t.live(0, new LaneBusy(3_000));
    expect((await t.cards.read(P, D, slow)).freshness.source).toBe('saved');
    expect(t.calls).toHaveLength(2);
    await settle();
    // The background read found no slot either: still busy, still answered at once.
    t.advance(BUSY_MS / 2);
    expect(t.cards.busy()).toBe(true);
    expect((await t.cards.read(P, D, t.live())).freshness.source).toBe('saved');
    await settle();
    // That background read came back fast: HubSpot is not busy any more, and the card has its values.
    expect(t.cards.busy()).toBe(false);
    const shown = await t.cards.read(P, D, t.live(0, new LaneBusy(1)));
    expect(shown.freshness).toEqual({ source: 'recent', asOf: new Date(t.now).toISOString() });
    expect(shown.snapshot?.properties.n).toBe('3');
  });

  it('while busy, a deal read recently is shown as that read and refreshed only once it is old', async () => {
    const t = setup();
    await t.cards.read(P, D, t.live());
    const readAt = t.now;
    t.advance(1_000);
    // No slot: busy from here, and the card shows the read of a second ago.
    const r = await t.cards.read(P, D, t.live(0, new LaneBusy(3_000)));
    expect(r.freshness).toEqual({ source: 'recent', asOf: new Date(readAt).toISOString() });
    expect(t.calls).toHaveLength(2);
    // Busy, and the recent read is fresh enough: answered from it, no background read spends a slot.
    expect((await t.cards.read(P, D, t.live())).freshness.source).toBe('recent');
    expect(t.calls).toHaveLength(2);

    // Later in another busy spell, the read has grown old: one background read refreshes it.
    t.advance(REFRESH_AFTER_MS);
    await t.cards.read(P, D, t.live(0, new LaneBusy(3_000)));
    expect(t.calls).toHaveLength(3);
    expect(t.cards.busy()).toBe(true);
    const refreshing = t.cards.read(P, D, t.live());
    expect((await refreshing).freshness).toEqual({ source: 'recent', asOf: new Date(readAt).toISOString() });
    expect(t.calls).toHaveLength(4);
    await settle();
    expect(t.cards.busy()).toBe(false);
  });

  it('a busy spell ends on its own after BUSY_MS: the next card reads live again', async () => {
    const t = setup();
    await t.cards.read(P, D, t.live(0, new LaneBusy(3_000)));
    t.advance(BUSY_MS);
    expect(t.cards.busy()).toBe(false);
    expect((await t.cards.read(P, D, t.live())).freshness.source).toBe('live');
  });

  it("the budget is a multiple of this process's measured live-read latency, within its bounds", async () => {
    const t = setup();
    // Too few reads to judge: the most a card waits.
    expect(t.cards.budget()).toBe(60_000);
    for (let i = 0; i < 5; i++) await t.cards.read(P, D, t.live(40));
    expect(t.cards.budget()).toBe(BUDGET_FACTOR * 40);
    for (let i = 0; i < 10; i++) await t.cards.read(P, D, t.live(1));
    expect(t.cards.budget()).toBe(MIN_BUDGET_MS);
  });

  it('a live read slower than the budget marks HubSpot busy (its answer is still kept for the next card)', async () => {
    const t = setup();
    for (let i = 0; i < 5; i++) await t.cards.read(P, D, t.live(20));
    const budget = t.cards.budget();
    // Resolves, but took (by the latency counter) far longer than the budget allows.
    const r = await t.cards.read(P, D, t.live(budget * 10));
    expect(r.freshness.source).toBe('live');
    expect(t.cards.busy()).toBe(true);
    expect((await t.cards.read(P, D, t.live())).freshness.source).toBe('recent');
  });

  it('with a recent read of the deal to show, a card waits less, and that alone does not mark HubSpot busy', async () => {
    const t = setup();
    for (let i = 0; i < 5; i++) await t.cards.read(P, D, t.live(40));
    expect(t.cards.budget(true)).toBe(FALLBACK_BUDGET_FACTOR * 40);
    for (let i = 0; i < 10; i++) await t.cards.read(P, D, t.live(1));
    expect(t.cards.budget(true)).toBe(FALLBACK_MIN_BUDGET_MS);
    expect(FALLBACK_MIN_BUDGET_MS).toBeLessThan(MIN_BUDGET_MS);

    // A read that has not answered when the shorter wait ends (a real timer of FALLBACK_MIN_BUDGET_MS).
    let answer!: () => void;
    const slow = async (): Promise<DealSnapshot> => {
      await new Promise<void>((r) => (answer = r));
      return snap({ dealId: D, properties: { n: 'late' } });
    };
    const r = await t.cards.read(P, D, slow);
    expect(r.freshness.source).toBe('recent');
    expect(t.cards.busy()).toBe(false);
    // It answers within the usual budget (by the latency counter): HubSpot was not busy; the next card has it.
    answer();
    await settle();
    expect(t.cards.busy()).toBe(false);
    expect((await t.cards.read(P, D, t.live())).freshness.source).toBe('live');

    expect(t.cards.waits(P, D)).toEqual({ budget: MIN_BUDGET_MS, wait: FALLBACK_MIN_BUDGET_MS });
    // Read longer ago than REFRESH_AFTER_MS, or never: nothing recent enough to stand in, the usual budget.
    expect(t.cards.waits(P, '999')).toEqual({ budget: MIN_BUDGET_MS, wait: MIN_BUDGET_MS });
    t.advance(REFRESH_AFTER_MS + 1);
    expect(t.cards.waits(P, D)).toEqual({ budget: MIN_BUDGET_MS, wait: MIN_BUDGET_MS });
  });
});
