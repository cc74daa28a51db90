import { describe, expect, it } from 'vitest';
import { cycleTime } from './cycle-time';
import { visit } from './fixtures';

const H = 3600_000;
const T = Date.parse('2026-11-16T05:00:00Z');

/** Seed 004: "median referral cycle time"; the issue: lead -> started care, referral -> started care. */
describe('cycleTime between two stages', () => {
  it('measures first entry of "from" to the next entry of "to", for deals reaching "to" in the window', () => {
    const rows = [
      // Deal a: s1 at T, back through s1 again, s4 at T+10h.
      visit({ dealId: 'a', stage: 's1', enteredAt: T, exitedAt: T + H }),
      visit({ dealId: 'a', stage: 's1', enteredAt: T + 2 * H, exitedAt: T + 3 * H }),
      visit({ dealId: 'a', stage: 's4', enteredAt: T + 10 * H, exitedAt: T + 11 * H }),
      // Deal b: reached s4 at T+30h, after the window's end: not in this cohort.
      visit({ dealId: 'b', stage: 's1', enteredAt: T, exitedAt: T + H }),
      visit({ dealId: 'b', stage: 's4', enteredAt: T + 30 * H, exitedAt: T + 31 * H }),
      // Deal c: never entered s1 in the rows read: not guessed.
      visit({ dealId: 'c', stage: 's4', enteredAt: T + 5 * H, exitedAt: T + 6 * H }),
    ];
    // Deal d is in s4 now (an open visit), having entered s1 at T+1h.
    const open = [
      {
        dealId: 'd',
        pipeline: 'p1',
        stage: 's4',
        ownerRole: 'clinical',
        enteredAt: T + 5 * H,
        hasSla: false,
        breachedAt: null,
      },
    ];
    const more = [...rows, visit({ dealId: 'd', stage: 's1', enteredAt: T + H, exitedAt: T + 2 * H })];
    expect(cycleTime(more, open, 's1', 's4', T, T + 24 * H)).toEqual({
      from: 's1',
      to: 's4',
      deals: 2,
      medianMs: 7 * H,
      p90Ms: 10 * H,
    });
    expect(cycleTime(rows, [], 's1', 's4', T, T + 48 * H)).toMatchObject({ deals: 2, medianMs: 20 * H });
    expect(cycleTime([], [], 's1', 's4', T, T + H)).toEqual({
      from: 's1',
      to: 's4',
      deals: 0,
      medianMs: null,
      p90Ms: null,
    });
  });
});
