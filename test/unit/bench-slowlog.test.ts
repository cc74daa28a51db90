import { describe, expect, it } from 'vitest';
import { slowCommands } from '../bench/move';

describe("the card bench's Redis slow-log summary", () => {
  it('groups entries by command and key family, leaving out prefix, ids, dates and every argument', () => {
    const s = slowCommands([
      [
        1,
        0,
        10_680,
        ['evalsha', 'a'.repeat(40), '3', 'skb:24681357:history-log:2026-11-23', 'k2', 'k3', 'Jane Doe'],
      ],
      [
        2,
        0,
        4_200,
        ['evalsha', 'a'.repeat(40), '3', 'skb:24681357:history-log:2026-11-23:2', 'k2', 'k3', 'x'],
      ],
      [3, 0, 3_100, ['GET', 'skb:24681357:history-log:2026-11-23:1']],
      [4, 0, 5_000, ['ZADD', 'skb:timers:due', '17', '24681357|t1']],
      [5, 0, 3_000, ['evalsha', 'b'.repeat(40), '0', 'argv-only']],
    ]);
    expect(s.count).toBe(5);
    expect(s.worstMs).toBe(10.68);
    expect(s.by).toEqual({
      'evalsha history-log': [2, 10.68],
      'get history-log': [1, 3.1],
      'zadd timers:due': [1, 5],
      'evalsha -': [1, 3],
    });
    expect(JSON.stringify(s)).not.toContain('Jane');
  });

  it('reports nothing slow as nothing', () => {
    expect(slowCommands([])).toEqual({ thresholdMs: 3, count: 0, worstMs: 0, by: {} });
  });
});
