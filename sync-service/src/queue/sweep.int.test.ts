import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLogger, silentLogger, type Logger } from '../log';
import { ReconcileQueue } from './reconcile';
import { redisKeys, type Keys } from '../state/keys';
import { SweepCursorStore } from '../state/sweep-cursor';
import { runSweep, type SweepDeps } from './sweep';
import { DealStateStore } from '../state/deal-state-store';
import { blankState, deletePrefix, MemoryGateway, testPrefix, testRedis } from '../testing/fakes';

const T0 = Date.parse('2026-03-04T12:00:00Z');
let redis: Redis;
let prefix: string;
let keys: Keys;
let gateway: MemoryGateway;
let cursors: SweepCursorStore;
let queue: ReconcileQueue;
let now: number;

const sweep = (audit?: SweepDeps['audit'], log: Logger = silentLogger) =>
  runSweep({
    ...(audit ? { audit } : {}),
    gateway,
    playbooks: { portals: async () => ['5'] },
    cursors,
    reconcile: queue,
    log,
    clock: () => now,
    overlapMs: 1_000,
    initialLookbackMs: 60_000,
  });
const queued = async () => (await queue.list()).map((r) => r.dealId).sort();

beforeAll(() => {
  redis = testRedis();
});
beforeEach(() => {
  prefix = testPrefix();
  keys = redisKeys(prefix);
  gateway = new MemoryGateway();
  cursors = new SweepCursorStore(redis, keys);
  queue = new ReconcileQueue(redis, keys, 60_000);
  now = T0;
});
afterEach(async () => {
  await queue.close();
  await deletePrefix(redis, prefix);
});
afterAll(async () => {
  await redis.quit();
});

describe('runSweep', () => {
  it('starts from the lookback, enqueues modified deals and advances the cursor to the newest change', async () => {
    gateway.setDeal('1', 'new', T0 - 120_000); // before the first window: left to provisioning
    gateway.setDeal('2', 'new', T0 - 30_000);
    const [report] = await sweep();
    expect(report).toEqual({
      portalId: '5',
      since: T0 - 60_000,
      found: 1,
      cursor: T0 - 30_000,
      audited: 0,
      gone: 0,
    });
    expect(await queued()).toEqual(['2']);
    expect(await cursors.get('5')).toBe(T0 - 30_000);
  });

  it('recovers a deal whose webhook never arrived, with an overlap for late-indexed changes', async () => {
    gateway.setDeal('2', 'new', T0 - 30_000);
    await sweep();
    await redis.del(keys.reconcileDue());

    now = T0 + 300_000;
    gateway.setDeal('3', 'next', T0 + 200_000); // the missed webhook
    gateway.setDeal('4', 'new', T0 - 30_500); // indexed late, just behind the cursor
    const [report] = await sweep();
    expect(report!.since).toBe(T0 - 31_000);
    expect(await queued()).toEqual(['2', '3', '4']);
    expect(await cursors.get('5')).toBe(T0 + 200_000);
  });

  it('audits tracked deals: a deletion no search finds is reconciled, live deals are left alone', async () => {
    const states = new DealStateStore(redis, keys, silentLogger);
    for (const id of ['7', '8']) {
      gateway.setDeal(id, 'new', T0 - 3_600_000); // long before the sweep's window
      await states.save('5', id, 0, blankState(id));
    }
    await states.ensureTracked('5');
    gateway.deals.get('8')!.exists = false; // deleted, its webhooks lost
    const [report] = await sweep({ states, perSweep: 1_000 });
    expect(report).toMatchObject({ found: 0, audited: 2, gone: 1 });
    expect(await queued()).toEqual(['8']);
  });

  it('a failed audit fails the sweep but keeps what the search did: its requests and its cursor', async () => {
    const states = new DealStateStore(redis, keys, silentLogger);
    await states.save('5', '7', 0, blankState('7'));
    await states.ensureTracked('5');
    gateway.setDeal('2', 'new', T0 - 30_000);
    gateway.goneDeals = async () => {
      throw new Error('HubSpot 503');
    };
    const lines: string[] = [];
    const log = createLogger('info', { write: (s: string) => void lines.push(s) });
    await expect(sweep({ states, perSweep: 1_000 }, log)).rejects.toThrow(/sweep failed for 1 portal/);
    // The log says which part failed: the search's cursor did move on.
    const said = lines.map((l) => JSON.parse(l) as { level: number; msg: string });
    expect(said.filter((l) => l.level === 50).map((l) => l.msg)).toEqual([
      'audit of tracked deals failed for portal; its cursor unchanged',
    ]);
    expect(await queued()).toEqual(['2']);
    expect(await cursors.get('5')).toBe(T0 - 30_000);
    expect(await cursors.auditCursor('5')).toBe('0');
  });

  it('keeps the cursor when the search fails, so the window is retried', async () => {
    gateway.setDeal('2', 'new', T0 - 30_000);
    await sweep();
    gateway.modifiedSince = async () => {
      throw new Error('HubSpot 503');
    };
    await expect(sweep()).rejects.toThrow(/sweep failed for 1 portal/);
    expect(await cursors.get('5')).toBe(T0 - 30_000);
  });
});
