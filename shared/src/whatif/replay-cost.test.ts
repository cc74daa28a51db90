import { IANAZone } from 'luxon';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { benchInput } from './bench-rows';
import { whatIf } from './compare';

afterEach(() => {
  vi.restoreAllMocks();
});

/**
 * Reading a zone's UTC offset goes through Intl in luxon (microseconds a read), so it is what a replay's cost was
 * made of when the clock re-read offsets per visit: 1M visits took 175 s (issue 18). The clock memoises what it
 * learns per hour and per date, so past the first visits of a window the replay should hardly read any more.
 * Counted, not timed: the count is the same on a busy machine.
 */
function offsetReads(visits: number): number {
  // Fresh playbook objects each time, so the calendars are compiled (and their memos start empty) inside the count.
  const input = benchInput(visits);
  const spy = vi.spyOn(IANAZone.prototype, 'offset');
  whatIf(input);
  const reads = spy.mock.calls.length;
  spy.mockRestore();
  return reads;
}

describe('what-if replay cost', () => {
  it('reads zone offsets less than once per added visit over the same four weeks', () => {
    const few = offsetReads(2_000);
    const many = offsetReads(6_000);
    // Before the memo of plain weeks, every visit cost about 26 reads whatever had been replayed before it.
    expect((many - few) / 4_000).toBeLessThan(1);
  });
});
