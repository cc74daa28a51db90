import type { Command } from '@stagekeeper/shared';
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../log';
import { redisKeys } from '../state/keys';
import { deletePrefix, testPrefix, testRedis } from '../testing/fakes';
import { legacyTimerJobIds } from './job-ids';
import { LegacyTimerJobs } from './legacy-timer-jobs';
import { decodeTimer, TimerQueue, type TimerTarget } from './timers';

type Schedule = Extract<Command, { type: 'scheduleTimer' }>;
const ENTRY = '900:appointmentscheduled:1700000000000';
const timer = (kind: Schedule['kind'], fireAt: number, level?: number): Schedule => ({
  type: 'scheduleTimer',
  timerId: level === undefined ? `${ENTRY}:${kind}` : `${ENTRY}:level:${level}`,
  kind,
  entryId: ENTRY,
  fireAt,
  ...(level === undefined ? {} : { level }),
});
const NOW = 1_800_000_000_000;

let redis: Redis;
let prefix: string;
let keys: ReturnType<typeof redisKeys>;
let timers: TimerQueue;
let legacy: LegacyTimerJobs | undefined;

const members = async () => {
  const flat = await redis.zrange(keys.timersDue(), 0, -1, 'WITHSCORES');
  const out: Record<string, number> = {};
  for (let i = 0; i < flat.length; i += 2) out[flat[i]!] = Number(flat[i + 1]);
  return out;
};

beforeEach(() => {
  redis = testRedis();
  prefix = testPrefix();
  keys = redisKeys(prefix);
  timers = new TimerQueue(redis, keys, () => NOW);
});
afterEach(async () => {
  await timers.close();
  await legacy?.close();
  legacy = undefined;
  await deletePrefix(redis, prefix);
  await redis.quit();
});

describe('timer index', () => {
  it('stores a timer as one member (portal|timer id) scored by its fire time, and nothing else', async () => {
    const { member } = await timers.schedule('7', '900', timer('breach', NOW + 300));
    expect(member).toBe(`7|${ENTRY}:breach`);
    expect(await members()).toEqual({ [member]: NOW + 300 });
    expect(await redis.exists(keys.timersMeta())).toBe(0);
    expect(await timers.pending('7', `${ENTRY}:breach`)).toEqual({
      portalId: '7',
      dealId: '900',
      fireAt: NOW + 300,
      firing: { timerId: `${ENTRY}:breach`, kind: 'breach', entryId: ENTRY },
    });
  });

  it('rescheduling the same timer id replaces it; different timers stay apart (levels, kinds, portals)', async () => {
    await timers.schedule('7', '900', timer('warning', NOW + 60_000));
    await timers.schedule('7', '900', timer('warning', NOW + 150));
    expect(await members()).toEqual({ [`7|${ENTRY}:warning`]: NOW + 150 });
    await timers.schedule('7', '900', timer('escalation', NOW, 0));
    await timers.schedule('7', '900', timer('escalation', NOW, 1));
    await timers.schedule('8', '900', timer('warning', NOW));
    expect(Object.keys(await members())).toHaveLength(4);
  });

  it('cancel removes the timer; cancelling one never scheduled is harmless', async () => {
    await timers.schedule('7', '900', timer('breach', NOW + 150));
    await timers.cancel('7', `${ENTRY}:breach`);
    expect(await timers.pending('7', `${ENTRY}:breach`)).toBeUndefined();
    expect(await members()).toEqual({});
    await timers.cancel('7', 'never-scheduled');
  });

  it("one decision's timer commands in one call: the last per timer id wins, others are untouched", async () => {
    const warning = `${ENTRY}:warning`;
    await timers.apply('7', '900', [timer('warning', NOW + 60_000), timer('breach', NOW + 60_000)]);
    const sent = vi.spyOn(redis, 'evalsha');
    const added = await timers.apply('7', '900', [
      { type: 'cancelTimer', timerId: warning },
      timer('warning', NOW + 120_000),
      timer('escalation', NOW + 120_000, 0),
      { type: 'cancelTimer', timerId: `${ENTRY}:level:0` },
    ]);
    expect(sent).toHaveBeenCalledTimes(1);
    expect(added).toEqual([`7|${warning}`]);
    expect(await members()).toEqual({ [`7|${warning}`]: NOW + 120_000, [`7|${ENTRY}:breach`]: NOW + 60_000 });
  });

  it('keeps what a timer id does not derive in the meta hash, only for that timer, and reads it back', async () => {
    const cases: (TimerTarget & { fireAt: number })[] = [
      // Another deal than the entry's, a custom id, a kind the id does not spell.
      {
        portalId: '7',
        dealId: '901',
        fireAt: NOW + 3,
        firing: { timerId: `${ENTRY}:breach`, kind: 'breach', entryId: ENTRY },
      },
      {
        portalId: '7',
        dealId: '900',
        fireAt: NOW + 4,
        firing: { timerId: 'custom-id', kind: 'escalation', entryId: 'other', level: 0 },
      },
      {
        portalId: '8',
        dealId: '900',
        fireAt: NOW + 5,
        firing: { timerId: `${ENTRY}:breach`, kind: 'warning', entryId: ENTRY },
      },
    ];
    for (const c of cases)
      await timers.schedule(c.portalId, c.dealId, {
        type: 'scheduleTimer',
        timerId: c.firing.timerId,
        kind: c.firing.kind,
        entryId: c.firing.entryId,
        ...(c.firing.level !== undefined ? { level: c.firing.level } : {}),
        fireAt: c.fireAt,
      });
    expect(await redis.hgetall(keys.timersMeta())).toEqual({
      [`7|${ENTRY}:breach`]: '{"d":"901"}',
      // An entry id that names no deal: the deal is kept too.
      '7|custom-id': '{"d":"900","k":"escalation","e":"other","l":0}',
      [`8|${ENTRY}:breach`]: '{"k":"warning","e":"900:appointmentscheduled:1700000000000"}',
    });
    for (const c of cases) expect(await timers.pending(c.portalId, c.firing.timerId)).toEqual(c);
    expect((await timers.list()).sort((a, b) => a.fireAt - b.fireAt)).toEqual(cases);
    // Scheduled again the way the engine spells it, or cancelled: its meta goes with it.
    await timers.schedule('7', '900', timer('breach', NOW));
    await timers.cancel('7', 'custom-id');
    expect(await redis.hgetall(keys.timersMeta())).toEqual({
      [`8|${ENTRY}:breach`]: '{"k":"warning","e":"900:appointmentscheduled:1700000000000"}',
    });
  });

  it('reads back nothing from a member or meta it cannot make sense of', () => {
    expect(decodeTimer(`7|${ENTRY}:breach`, null)?.dealId).toBe('900');
    expect(decodeTimer('7|underivable', null)).toBeUndefined();
    expect(decodeTimer(`|${ENTRY}:breach`, null)).toBeUndefined();
    expect(decodeTimer(`7|${ENTRY}:breach`, '{"d":"x"}')).toBeUndefined();
    expect(decodeTimer(`7|${ENTRY}:breach`, 'not json')).toBeUndefined();
  });

  it('counts timers due now (waiting) apart from later ones, for the queue-depth gauge', async () => {
    await timers.apply('7', '900', [
      timer('warning', NOW - 1),
      timer('breach', NOW),
      timer('escalation', NOW + 1, 0),
    ]);
    expect(await timers.counts()).toEqual({ waiting: 2, delayed: 1 });
    expect(await timers.getJobCounts()).toEqual({ waiting: 2, delayed: 1 });
  });
});

describe('timers armed as BullMQ jobs before the index', () => {
  const start = async () => {
    legacy = new LegacyTimerJobs(redis, keys.bullPrefix(), silentLogger, 60_000);
    timers = new TimerQueue(redis, keys, () => NOW, legacy);
    const found = vi.fn();
    await legacy.start(found);
    return found;
  };

  it('a deployment without any costs nothing: found absent at start, so apply never looks for one', async () => {
    const found = await start();
    expect(found).not.toHaveBeenCalled();
    const remove = vi.spyOn(legacy!, 'remove');
    await timers.apply('7', '900', [
      timer('warning', NOW),
      { type: 'cancelTimer', timerId: `${ENTRY}:breach` },
    ]);
    expect(remove).not.toHaveBeenCalled();
  });

  it('rescheduling or cancelling reaches a legacy job under any of its ids, in either stored shape', async () => {
    const queue = new LegacyTimerJobs(redis, keys.bullPrefix(), silentLogger).queue;
    const [oldId, oldNext] = legacyTimerJobIds('7', `${ENTRY}:warning`);
    const full = {
      portalId: '7',
      dealId: '900',
      firing: { timerId: `${ENTRY}:warning`, kind: 'warning', entryId: ENTRY },
      fireAt: NOW + 60_000,
    };
    await queue.add('timer:warning', full, { jobId: oldId, delay: 60_000 });
    await queue.add(
      'warning',
      { p: '7', t: `${ENTRY}:breach`, fireAt: NOW + 60_000 },
      { jobId: 'tm-x', delay: 60_000 },
    );
    const found = await start();
    expect(found).toHaveBeenCalledTimes(1);
    expect(legacy!.present).toBe(true);
    // Before anything is done, the legacy jobs are pending timers like any other.
    expect(await timers.pending('7', `${ENTRY}:warning`)).toMatchObject({
      fireAt: NOW + 60_000,
      legacyJobId: oldId,
    });
    expect((await timers.list()).map((t) => t.firing.timerId).sort()).toEqual([
      `${ENTRY}:breach`,
      `${ENTRY}:warning`,
    ]);

    await timers.schedule('7', '900', timer('warning', NOW + 5));
    expect(await queue.getJob(oldId)).toBeUndefined();
    expect(await timers.pending('7', `${ENTRY}:warning`)).toMatchObject({ fireAt: NOW + 5 });
    await queue.add('timer:warning', full, { jobId: oldNext, delay: 60_000 });
    await timers.cancel('7', `${ENTRY}:warning`);
    expect(await queue.getJob(oldNext)).toBeUndefined();
    expect(await timers.pending('7', `${ENTRY}:warning`)).toBeUndefined();
    await queue.close();
  });

  it('looks again while it runs: jobs an older process armed later are found, and none once drained', async () => {
    await start();
    expect(legacy!.present).toBe(false);
    await legacy!.queue.add(
      'warning',
      { p: '7', t: `${ENTRY}:breach`, fireAt: NOW },
      { jobId: 'tm-y', delay: 60_000 },
    );
    expect(await legacy!.refresh()).toBe(true);
    await legacy!.queue.remove('tm-y');
    expect(await legacy!.refresh()).toBe(false);
  });
});
