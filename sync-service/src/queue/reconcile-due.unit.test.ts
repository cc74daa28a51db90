import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { reconcileDueAt } from './reconcile';

describe('reconcileDueAt: requests fall due on the debounce window grid', () => {
  const now = fc.double({ min: 0, max: 4e12, noNaN: true });
  const window = fc.integer({ min: 1, max: 60_000 });

  it('waits at least one window and less than two, in whole milliseconds on the grid', () => {
    fc.assert(
      fc.property(now, window, (t, d) => {
        const at = reconcileDueAt(t, d);
        expect(Number.isInteger(at)).toBe(true);
        expect(at % d).toBe(0);
        expect(at).toBeGreaterThanOrEqual(t + d);
        expect(at).toBeLessThan(Math.ceil(t) + 2 * d);
      }),
    );
  });

  it('gives every request of one window the same due time, so their deals are worked together', () => {
    fc.assert(
      fc.property(
        window,
        fc.integer({ min: 0, max: 1e9 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (d, k, f) => {
          const start = k * d;
          // Any two instants within (start - d, start]: ceil(t + d) lands in (start, start + d].
          const a = start - d + 1;
          const b = start - (d - 1) * f;
          expect(reconcileDueAt(a, d)).toBe(reconcileDueAt(b, d));
          expect(reconcileDueAt(a, d)).toBe(start + d);
        },
      ),
    );
  });

  it('is due at once with no window', () => {
    expect(reconcileDueAt(1_000.2, 0)).toBe(1_001);
  });
});
