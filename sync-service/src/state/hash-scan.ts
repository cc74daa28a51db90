import type { Redis } from 'ioredis';

/**
 * Fields per HSCAN page. Redis answers a page in well under a millisecond, so other clients are never held up for
 * long (HGETALL / HVALS of a whole week held Redis for hundreds of ms); larger pages mean fewer round trips.
 */
export const SCAN_PAGE = 2000;

/**
 * Walks a hash page by page, handing each page's flat [field, value, ...] list to `onPage`. The next page is asked
 * for before this one is handed over, so Redis fetches it while the caller decodes. A field can come twice (HSCAN
 * guarantees each field at least once); callers that count rows dedupe by field.
 */
export async function scanHash(
  redis: Redis,
  key: string,
  onPage: (flat: string[]) => void | Promise<void>,
  match?: string,
): Promise<void> {
  const scan = (cursor: string) =>
    match === undefined
      ? redis.hscan(key, cursor, 'COUNT', SCAN_PAGE)
      : redis.hscan(key, cursor, 'MATCH', match, 'COUNT', SCAN_PAGE);
  let next = scan('0');
  for (;;) {
    const [cursor, flat] = await next;
    const more = cursor !== '0';
    if (more) {
      next = scan(cursor);
      // If onPage throws, this page's error (if any) must not surface as an unhandled rejection.
      next.catch(() => undefined);
    }
    await onPage(flat);
    if (!more) return;
  }
}
