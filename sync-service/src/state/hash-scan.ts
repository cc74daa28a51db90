import type { Redis } from 'ioredis';

/**
 * Fields per HSCAN page. Redis answers a page in a few milliseconds, so other clients are never held up for long
 * (HVALS of a whole 200,000-row week held Redis for 222 ms); larger pages mean fewer round trips.
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
  await pages(scan, async ([, flat]) => onPage(flat));
}

/**
 * Every value of a hash, HSCAN page by page. `exact` is true when each field was seen exactly once: the hash's
 * length was the same before and after the walk and the values counted equal it. HSCAN can return a field twice
 * only while the hash is resized, which takes a write, so a hash nobody writes to (a past week) is read exact and
 * the caller can skip deduping (a Set over a million fields cost more than reading them).
 */
export async function hashValues(
  redis: Redis,
  key: string,
  onPage: (values: string[]) => void,
): Promise<{ exact: boolean }> {
  const before = await redis.hlen(key);
  let count = 0;
  await scanHash(redis, key, (flat) => {
    const values: string[] = new Array(flat.length / 2);
    for (let i = 1; i < flat.length; i += 2) values[(i - 1) / 2] = flat[i]!;
    count += values.length;
    onPage(values);
  });
  return { exact: count === before && (await redis.hlen(key)) === before };
}

async function pages<T extends [string, ...unknown[]]>(
  fetch: (cursor: string) => Promise<T>,
  onPage: (page: T) => void | Promise<void>,
): Promise<void> {
  let next = fetch('0');
  for (;;) {
    const page = await next;
    const more = page[0] !== '0';
    if (more) {
      next = fetch(page[0]);
      // If onPage throws, this page's error (if any) must not surface as an unhandled rejection.
      next.catch(() => undefined);
    }
    await onPage(page);
    if (!more) return;
  }
}
