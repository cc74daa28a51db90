import { Playbook, type Command } from '@stagekeeper/shared';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from './log';
import { TimerQueue } from './queue/timers';
import { DealStateStore } from './state/deal-state-store';
import { HistoryStore } from './state/history-store';
import { redisKeys, type Keys } from './state/keys';
import { staticPlaybookSource } from './state/playbook-store';
import {
  blankState,
  deletePrefix,
  MemoryGateway,
  MINIMAL_PLAYBOOK_INPUT,
  ScriptedEngine,
  testPrefix,
  testRedis,
} from './testing/fakes';
import { sharedEngine, type DecideDeps } from './decide';
import { DealProcessingError, reconcileDeals } from './queue/reconcile';
import { fireTimer } from './queue/timers';

const PORTAL = '77';
const ENTRY = '10:new:1';
const playbook = Playbook.parse(MINIMAL_PLAYBOOK_INPUT);

let redis: Redis;
let prefix: string;
let keys: Keys;
let gateway: MemoryGateway;
let engine: ScriptedEngine;
let states: DealStateStore;
let history: HistoryStore;
let timers: TimerQueue;
const NOW = Date.parse('2026-03-04T12:00:00Z');

const deps = (): DecideDeps => ({
  gateway,
  engine,
  playbooks: staticPlaybookSource(playbook, [PORTAL]),
  states,
  history,
  timers,
  log: silentLogger,
  clock: () => NOW,
});

beforeAll(() => {
  redis = testRedis();
});
beforeEach(() => {
  prefix = testPrefix();
  keys = redisKeys(prefix);
  gateway = new MemoryGateway();
  engine = new ScriptedEngine();
  states = new DealStateStore(redis, keys, silentLogger);
  history = new HistoryStore(redis, keys, silentLogger);
  timers = new TimerQueue(redis, keys, () => NOW);
});
afterEach(async () => {
  await timers.close();
  await deletePrefix(redis, prefix);
});
afterAll(async () => {
  await redis.quit();
});

const COMMANDS: Command[] = [
  { type: 'setProperties', properties: { stagekeeper_sla_status: 'running' } },
  {
    type: 'scheduleTimer',
    timerId: `${ENTRY}:breach`,
    kind: 'breach',
    entryId: ENTRY,
    fireAt: NOW + 3_600_000,
  },
  { type: 'cancelTimer', timerId: `${ENTRY}:warning` },
  {
    type: 'recordHistory',
    row: {
      dealId: '10',
      pipeline: 'default',
      stage: 'new',
      ownerRole: 'intake',
      ownerId: null,
      enteredAt: NOW - 1000,
      exitedAt: NOW,
      businessMs: 1000,
      toStage: 'next',
      direction: 'forward',
      slaOutcome: 'met',
      breachReason: null,
    },
  },
];

describe('reconcileDeals', () => {
  it('applies HubSpot commands, schedules timers, records history and persists state', async () => {
    gateway.setDeal('10', 'new');
    engine.commands = () => COMMANDS;
    await timers.schedule(PORTAL, '10', {
      type: 'scheduleTimer',
      timerId: `${ENTRY}:warning`,
      kind: 'warning',
      entryId: ENTRY,
      fireAt: NOW + 1000,
    });

    const outcomes = await reconcileDeals(deps(), PORTAL, ['10']);
    expect(outcomes.get('10')).toBe('applied');
    // Only HubSpot-side commands reach the adapter.
    expect(gateway.applied).toEqual([{ portalId: PORTAL, dealId: '10', commands: [COMMANDS[0]] }]);
    // createdate: whether a deal without state predates this Redis's state (task adoption); the merged ids:
    // deals merged into this one whose own merge was never processed.
    expect(gateway.snapshotCalls[0]!.properties).toEqual([
      'dealstage',
      'pipeline',
      'createdate',
      'hs_merged_object_ids',
    ]);
    expect(await timers.pending(PORTAL, `${ENTRY}:breach`)).toBeDefined();
    expect(await timers.pending(PORTAL, `${ENTRY}:warning`)).toBeUndefined();
    expect((await history.readWeek(PORTAL, NOW)).map((r) => r.dealId)).toEqual(['10']);
    expect(await states.load(PORTAL, '10')).toEqual({ state: blankState('10', 1), version: 1 });
  });

  it('reads snapshots in batches of at most 100', async () => {
    const ids = Array.from({ length: 150 }, (_, i) => String(1000 + i));
    ids.forEach((id) => gateway.setDeal(id, 'new'));
    const outcomes = await reconcileDeals(deps(), PORTAL, ids);
    expect(gateway.snapshotCalls.map((c) => c.dealIds.length)).toEqual([100, 50]);
    expect([...outcomes.values()].every((o) => o === 'applied')).toBe(true);
  });

  it('decides again from the winner’s state when another worker saves the deal first', async () => {
    gateway.setDeal('10', 'new');
    let interfered = false;
    gateway.onSnapshot = async () => {
      if (interfered) return;
      interfered = true;
      // A timer firing for the same deal persists between our read and our save.
      await states.save(PORTAL, '10', 0, blankState('10', 41));
    };
    await reconcileDeals(deps(), PORTAL, ['10']);
    expect(engine.calls.map((c) => c.runsBefore)).toEqual([0, 41]);
    expect((await states.load(PORTAL, '10')).state?.breachCount).toBe(42);
  });

  it('cancels a timer scheduled by an attempt that lost the save, unless the saved decision keeps it', async () => {
    gateway.setDeal('10', 'new');
    let interfered = false;
    gateway.onSnapshot = async () => {
      if (interfered) return;
      interfered = true;
      await states.save(PORTAL, '10', 0, blankState('10', 41));
    };
    const lost = `${ENTRY}:warning`;
    const kept = `${ENTRY}:breach`;
    // The losing attempt schedules both; the winner's re-decision schedules only the breach timer.
    engine.commands = (call) => [
      ...(call.runsBefore === 0
        ? [
            {
              type: 'scheduleTimer' as const,
              timerId: lost,
              kind: 'warning' as const,
              entryId: ENTRY,
              fireAt: NOW + 60_000,
            },
          ]
        : []),
      { type: 'scheduleTimer', timerId: kept, kind: 'breach', entryId: ENTRY, fireAt: NOW + 3_600_000 },
    ];
    await reconcileDeals(deps(), PORTAL, ['10']);
    expect(engine.calls.map((c) => c.runsBefore)).toEqual([0, 41]);
    expect(await timers.pending(PORTAL, lost)).toBeUndefined();
    expect(await timers.pending(PORTAL, kept)).toBeDefined();
  });

  it('persists nothing when applying fails, so the retry makes the same decision', async () => {
    gateway.setDeal('10', 'new');
    engine.commands = () => [COMMANDS[0]!];
    const failing = gateway.apply.bind(gateway);
    let calls = 0;
    gateway.apply = async (...args) => {
      calls++;
      if (calls === 1) throw new Error('HubSpot 502 with body "secret value"');
      return failing(...args);
    };
    const err = await reconcileDeals(deps(), PORTAL, ['10']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DealProcessingError);
    expect(await states.load(PORTAL, '10')).toEqual({ state: null, version: 0 });

    await reconcileDeals(deps(), PORTAL, ['10']);
    expect(engine.calls.map((c) => c.runsBefore)).toEqual([0, 0]);
    expect((await states.load(PORTAL, '10')).state?.breachCount).toBe(1);
  });

  it('fails the deal (not the batch) when the gateway leaves it out, rather than treating it as deleted', async () => {
    gateway.setDeal('10', 'new');
    gateway.setDeal('11', 'new');
    gateway.omitFromSnapshots.add('10');
    const err = (await reconcileDeals(deps(), PORTAL, ['10', '11']).catch(
      (e: unknown) => e,
    )) as DealProcessingError;
    expect(err.failures.map((f) => f.dealId)).toEqual(['10']);
    expect(engine.calls.map((c) => c.dealId)).toEqual(['11']);
    expect((await states.load(PORTAL, '11')).version).toBe(1);
  });

  it('an id HubSpot has no deal for leaves no Redis key (issue 12: each unknown id left a key behind)', async () => {
    const real: DecideDeps = {
      gateway,
      engine: sharedEngine,
      playbooks: staticPlaybookSource(playbook, [PORTAL]),
      states,
      history,
      timers,
      log: silentLogger,
      clock: () => NOW,
    };
    const outcomes = await reconcileDeals(real, PORTAL, ['404', '405']);
    expect([...outcomes.values()]).toEqual(['applied', 'applied']);
    // BullMQ's own queue metadata aside, nothing is stored for them.
    expect((await redis.keys(`${prefix}:*`)).filter((k) => !k.startsWith(`${prefix}:bull:`))).toEqual([]);
  });

  describe('a deal merged into the one reconciled', () => {
    const realDeps = (): DecideDeps => ({
      gateway,
      engine: sharedEngine,
      playbooks: staticPlaybookSource(playbook, [PORTAL]),
      states,
      history,
      timers,
      log: silentLogger,
      clock: () => NOW,
    });

    it('is reconciled too when its merge was never processed (its webhook was lost)', async () => {
      gateway.setDeal('20', 'new');
      gateway.setDeal('21', 'new');
      await states.save(PORTAL, '21', 0, blankState('21', 3));
      gateway.merge('20', '21');
      await reconcileDeals(deps(), PORTAL, ['20']);
      expect(engine.calls.map((c) => c.dealId)).toEqual(['20', '21']);
      expect((await states.load(PORTAL, '21')).version).toBe(2);
    });

    it('is not reconciled again once closed as merged', async () => {
      gateway.setDeal('20', 'new');
      gateway.setDeal('21', 'new');
      await states.save(PORTAL, '21', 0, { ...blankState('21'), closedReason: 'merged' });
      gateway.merge('20', '21');
      await reconcileDeals(deps(), PORTAL, ['20']);
      expect(engine.calls.map((c) => c.dealId)).toEqual(['20']);
      expect(gateway.snapshotCalls.flatMap((c) => c.dealIds)).toEqual(['20']);
    });

    it('without any stored state (lost with Redis) is reconciled once and leaves a tombstone', async () => {
      gateway.setDeal('20', 'new');
      gateway.setDeal('21', 'new');
      gateway.merge('20', '21');
      await reconcileDeals(realDeps(), PORTAL, ['20']);
      expect(gateway.snapshotCalls.flatMap((c) => c.dealIds)).toEqual(['20', '21']);
      expect(await states.load(PORTAL, '21')).toEqual({ state: null, version: 1 });
      // The survivor's next reconcile reads only the survivor.
      await reconcileDeals(realDeps(), PORTAL, ['20']);
      expect(gateway.snapshotCalls.flatMap((c) => c.dealIds)).toEqual(['20', '21', '20']);
    });
  });

  it('does nothing for a portal without playbook', async () => {
    const outcomes = await reconcileDeals(deps(), '999', ['10']);
    expect(outcomes.get('10')).toBe('no_playbook');
    expect(gateway.snapshotCalls).toEqual([]);
  });
});

describe('fireTimer', () => {
  it('asks onTimer with the firing and persists the result', async () => {
    gateway.setDeal('10', 'new');
    await states.save(PORTAL, '10', 0, blankState('10', 5));
    const firing = { timerId: `${ENTRY}:breach`, kind: 'breach' as const, entryId: ENTRY };
    expect(await fireTimer(deps(), PORTAL, '10', firing)).toBe('applied');
    expect(engine.calls).toEqual([
      { kind: 'timer', dealId: '10', stage: 'new', runsBefore: 5, timer: firing },
    ]);
    expect((await states.load(PORTAL, '10')).state?.breachCount).toBe(6);
  });
});

describe('the real engine', () => {
  it('runs end to end through the worker for a new deal (smoke)', async () => {
    gateway.setDeal('10', 'new');
    const real: DecideDeps = {
      gateway,
      engine: sharedEngine,
      playbooks: staticPlaybookSource(playbook, [PORTAL]),
      states,
      history,
      timers,
      log: silentLogger,
      clock: () => NOW,
    };
    expect((await reconcileDeals(real, PORTAL, ['10'])).get('10')).toBe('applied');
    const { state } = await states.load(PORTAL, '10');
    expect(state?.dealId).toBe('10');
  });
});
