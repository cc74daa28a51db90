import { Command, type HistoryRow } from '@stagekeeper/shared';
import type { Redis } from 'ioredis';
import { weekStart, type HistoryStore } from '../state/history-store';
import { assertKeyPart, type Keys } from '../state/keys';

const WEEK_MS = 7 * 24 * 3600_000;
/** HistoryStore keeps a week for 400 days; looking further back finds nothing. */
const WEEKS_KEPT = Math.ceil(400 / 7) + 1;
const SCAN_COUNT = 500;

/**
 * One deal's finished stage visits, for the card's breach list. HistoryStore buckets rows per portal and exit
 * week with field `${dealId}:${stage}:${enteredAt}`, so a deal's rows are found by field prefix in each week it
 * may have exited in (a deal id cannot contain ":" or glob characters: keys.ts only admits [A-Za-z0-9_.-]).
 */
export class DealHistoryReader {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly store?: Pick<HistoryStore, 'append'>,
  ) {}

  /** Writes a corrected row back over its own field (its exit week's hash, keyed by the visit). */
  async rewrite(portalId: string, row: HistoryRow): Promise<void> {
    if (!this.store) throw new Error('DealHistoryReader was built without a store to rewrite rows');
    await this.store.append(portalId, [row]);
  }

  async rows(portalId: string, dealId: string, now: number): Promise<HistoryRow[]> {
    const pattern = `${assertKeyPart('dealId', dealId)}:*`;
    const weeks = Array.from({ length: WEEKS_KEPT }, (_, i) =>
      this.keys.history(portalId, weekStart(now - i * WEEK_MS)),
    );
    const rows: HistoryRow[] = [];
    // First page of every week in one round trip; only large weeks need more pages.
    let pending = weeks.map((key) => ({ key, cursor: '0' }));
    while (pending.length > 0) {
      const pipeline = this.redis.pipeline();
      for (const p of pending) pipeline.hscan(p.key, p.cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT);
      const replies = (await pipeline.exec()) ?? [];
      const next: typeof pending = [];
      replies.forEach(([err, reply], i) => {
        // A key of another type (corruption) reads as an empty week, as HistoryStore treats bad rows.
        if (err) return;
        const [cursor, flat] = reply as [string, string[]];
        for (let j = 1; j < flat.length; j += 2) {
          const row = parseRow(flat[j]!);
          if (row && row.dealId === dealId) rows.push(row);
        }
        if (cursor !== '0') next.push({ key: pending[i]!.key, cursor });
      });
      pending = next;
    }
    return rows;
  }
}

function parseRow(value: string): HistoryRow | null {
  try {
    const parsed = Command.safeParse({ type: 'recordHistory', row: JSON.parse(value) });
    return parsed.success && parsed.data.type === 'recordHistory' ? parsed.data.row : null;
  } catch {
    return null;
  }
}
