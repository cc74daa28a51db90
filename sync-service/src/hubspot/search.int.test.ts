import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock, type SandboxPortal, type SandboxServer } from '../../../test/sandbox';
import { deletePrefix } from '../testing/fakes';
import { sandboxCaller, startSandboxPortal } from '../testing/sandbox-portal';
import { HubSpotApiGateway } from './gateway';

// The sweep's search past HubSpot's 10,000-results-per-query cap. The sandbox's search limit is raised so the
// test measures paging, not waiting; the 5/s bucket itself is covered in limiter.unit.test.ts.
const prefix = `sktest-search-${process.pid}-${Date.now()}`;
const clock = manualClock();
let portal: SandboxPortal;
let server: SandboxServer;
let redis: Redis;

beforeAll(async () => {
  ({ portal, server } = await startSandboxPortal({
    now: clock.now,
    searchRateLimit: { max: 1_000, windowMs: 1_000 },
    rateLimit: { max: 10_000, windowMs: 10_000 },
    carePipeline: false,
  }));
  redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 3 });
});
afterAll(async () => {
  await deletePrefix(redis, prefix);
  redis.disconnect();
  await server.close();
});

describe('modifiedSince', () => {
  it('walks past 10,000 results by restarting the window at the last timestamp seen, without repeats', async () => {
    const start = clock.now();
    const ids: string[] = [];
    for (let i = 0; i < 10_250; i++) {
      // Three deals share each millisecond, so a restarted window re-reads some it already saw.
      if (i % 3 === 0) clock.advance(1);
      ids.push(portal.ui.createDeal({ dealname: `Deal ${i}`, dealstage: 'appointmentscheduled' }).id);
    }
    const caller = sandboxCaller(
      { portal, server },
      {
        redis,
        prefix,
        plan: { default: { max: 1_000, windowMs: 10_000 }, search: { max: 1_000, windowMs: 1_000 } },
      },
    );
    const gateway = new HubSpotApiGateway({ caller, redis, prefix });
    const mark = portal.requests.length;
    const res = await gateway.modifiedSince(String(portal.portalId), start);

    const searches = portal.requests.slice(mark);
    expect(searches.every((r) => r.status === 200)).toBe(true);
    expect(res.dealIds).toHaveLength(10_250);
    expect(new Set(res.dealIds)).toEqual(new Set(ids));
    expect(res.newestMs).toBe(clock.now());
    // 50 pages reach the cap; the second window starts at the last timestamp and needs two more.
    expect(searches.length).toBe(52);
    const windowStarts = new Set(
      searches.map(
        (r) =>
          (r.body as { filterGroups: { filters: { value: string }[] }[] }).filterGroups[0]!.filters[0]!.value,
      ),
    );
    expect(windowStarts.size).toBe(2);
  });
});
