import { createHmac } from 'node:crypto';
import { Playbook } from '@stagekeeper/shared';
import type { Command, Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from './log';
import { LegacyTimerJobs } from './queue/legacy-timer-jobs';
import { startService, type Service } from './service';
import { DealStateStore } from './state/deal-state-store';
import { redisKeys } from './state/keys';
import { staticPlaybookSource } from './state/playbook-store';
import {
  deletePrefix,
  MemoryGateway,
  MINIMAL_PLAYBOOK_INPUT,
  ScriptedEngine,
  signedWebhook,
  testConfig,
  testPrefix,
  testRedis,
  waitFor,
} from './testing/fakes';

const PORTAL = '321';
const METRICS_TOKEN = 'metrics-token-for-tests';
const playbook = Playbook.parse(MINIMAL_PLAYBOOK_INPUT);

let redis: Redis;
let prefix: string;
let gateway: MemoryGateway;
let engine: ScriptedEngine;
let service: Service | undefined;
let states: DealStateStore;

/** `roles`: a web-only or worker-only process (both by default). */
const start = (roles: { http?: true | 'operations'; workers?: boolean } = {}) =>
  startService({
    config: testConfig(prefix, { SWEEP_INTERVAL_MS: '1000', METRICS_TOKEN }),
    gateway,
    engine,
    playbookSource: staticPlaybookSource(playbook, [PORTAL]),
    log: silentLogger,
    host: '127.0.0.1',
    ...roles,
  });

const postEvents = (url: string, events: unknown[]): Promise<Response> => signedWebhook(url, events)();
const stageChange = (dealId: number) => ({
  eventId: 1,
  subscriptionId: 1,
  portalId: Number(PORTAL),
  appId: 1,
  occurredAt: Date.now(),
  attemptNumber: 0,
  subscriptionType: 'deal.propertyChange',
  objectId: dealId,
  propertyName: 'dealstage',
  propertyValue: 'next',
});

beforeAll(() => {
  redis = testRedis();
});
beforeEach(() => {
  prefix = testPrefix();
  gateway = new MemoryGateway();
  engine = new ScriptedEngine();
  states = new DealStateStore(redis, redisKeys(prefix), silentLogger);
});
afterEach(async () => {
  await service?.close();
  service = undefined;
  await deletePrefix(redis, prefix);
});
afterAll(async () => {
  await redis.quit();
});

describe('startService', () => {
  it('takes a signed webhook through the queue to a persisted decision, and reports ready', async () => {
    service = await start();
    // An old change: on a Redis without seed marker the first sweep reads every deal (data-loss recovery), so
    // it may reconcile this deal too; each run sees the same stage.
    gateway.setDeal('500', 'next', Date.now() - 10 * 3600_000);
    const res = await postEvents(service.url, [stageChange(500)]);
    expect(res.status).toBe(200);
    await waitFor(
      async () => (await states.load(PORTAL, '500')).version === 1,
      5_000,
      'reconcile of deal 500',
    );
    expect(new Set(engine.calls.map((c) => `${c.kind}:${c.dealId}:${c.stage}`))).toEqual(
      new Set(['reconcile:500:next']),
    );
    expect((await fetch(`${service.url}/readyz`)).status).toBe(200);
    expect((await fetch(`${service.url}/metrics`)).status).toBe(401);
    const metrics = await (
      await fetch(`${service.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })
    ).text();
    expect(metrics).toMatch(/stagekeeper_queue_depth\{queue="reconcile",state="waiting"\} \d+/);
    expect(metrics).toMatch(/stagekeeper_job_duration_seconds_count\{queue="reconcile",outcome="ok"\} [1-9]/);
  });

  it('splits into a web process and a worker process that answers only for health and metrics', async () => {
    const web = await start({ http: true, workers: false });
    const worker = await start({ http: 'operations', workers: true });
    try {
      gateway.setDeal('501', 'next', Date.now() - 10 * 3600_000);
      expect((await postEvents(web.url, [stageChange(501)])).status).toBe(200);
      await waitFor(async () => (await states.load(PORTAL, '501')).version === 1, 5_000, 'deal 501');
      // Nothing routes HubSpot's traffic to a worker: its webhook and card routes do not exist.
      expect((await postEvents(worker.url, [stageChange(501)])).status).toBe(404);
      expect((await fetch(`${worker.url}/api/card/deal/501`)).status).toBe(404);
      expect((await fetch(`${worker.url}/readyz`)).status).toBe(200);
      const metrics = await fetch(`${worker.url}/metrics`, {
        headers: { authorization: `Bearer ${METRICS_TOKEN}` },
      });
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toMatch(/stagekeeper_job_duration_seconds_count\{queue="reconcile"/);
    } finally {
      await Promise.all([web.close(), worker.close()]);
    }
  });

  it('reads cards on a Redis connection of its own, not behind the workers’ commands (issue #18)', async () => {
    // One connection answers in the order it was asked: a card read on the workers' connection waits for the
    // replies to every bulk command sent before it, which during a bulk move are hundreds.
    const main = redis.duplicate();
    const sent: string[] = [];
    const send = main.sendCommand.bind(main);
    main.sendCommand = ((command: Command, stream?: unknown) => {
      sent.push(command.args.map(String).join(' '));
      return (send as (c: Command, s?: unknown) => unknown)(command, stream);
    }) as typeof main.sendCommand;
    try {
      service = await startService({
        config: testConfig(prefix, { METRICS_TOKEN }),
        gateway,
        engine,
        playbookSource: staticPlaybookSource(playbook, [PORTAL]),
        log: silentLogger,
        host: '127.0.0.1',
        redis: main,
        api: true,
      });
      const url = `${service.url}/api/card/deal/77?userId=1&userEmail=rep%40clinic.test&appId=1&portalId=${PORTAL}`;
      const ts = String(Date.now());
      const signature = createHmac('sha256', 'test-secret')
        .update(`GET${url.replace('%40', '@')}${ts}`)
        .digest('base64');
      sent.length = 0;
      const res = await fetch(url, {
        headers: { 'x-hubspot-signature-v3': signature, 'x-hubspot-request-timestamp': ts },
      });
      expect(res.status).toBe(200);
      // The card read the portal's playbook (none stored here: an unmanaged card), just not on this connection.
      expect(await res.json()).toMatchObject({ managed: false });
      expect(sent.filter((args) => args.includes(redisKeys(prefix).playbookCurrent(PORTAL)))).toEqual([]);
    } finally {
      await service?.close();
      service = undefined;
      main.disconnect();
    }
  });

  it('keeps BullMQ’s scripts off the connection its stores pipeline on (issue #18: a pipeline copies them all)', async () => {
    // ioredis copies every script defined on a connection into each pipeline built on it, auto-pipelined
    // batches included: with BullMQ's ~50 there, a pipeline cost ~50 µs to build instead of ~3 (about 0.7 ms
    // of a steady move's CPU).
    service = await start();
    gateway.setDeal('502', 'next', Date.now() - 10 * 3600_000);
    expect((await postEvents(service.url, [stageChange(502)])).status).toBe(200);
    await waitFor(async () => (await states.load(PORTAL, '502')).version === 1, 5_000, 'deal 502');
    await service.sweepQueue.runOnce();
    const scripts = (service.redis as unknown as { scriptsSet: Record<string, unknown> }).scriptsSet;
    expect(Object.keys(scripts)).toEqual([]);
  });

  it('recovers a deal whose webhook was missed through the repeatable sweep', async () => {
    gateway.setDeal('600', 'new', Date.now());
    service = await start();
    await waitFor(
      async () => (await states.load(PORTAL, '600')).version >= 1,
      8_000,
      'sweep to reconcile deal 600',
    );
    expect(engine.calls.some((c) => c.dealId === '600')).toBe(true);
  });

  it('shuts down gracefully: stops taking requests but lets the in-flight reconcile persist', async () => {
    service = await start();
    gateway.setDeal('700', 'new', Date.now() - 10 * 3600_000);
    let snapshotStarted = false;
    gateway.onSnapshot = async () => {
      snapshotStarted = true;
      await new Promise((r) => setTimeout(r, 500));
    };
    expect((await postEvents(service.url, [stageChange(700)])).status).toBe(200);
    await waitFor(() => snapshotStarted, 5_000, 'the reconcile to be in flight');
    const url = service.url;
    await service.close();
    service = undefined;
    // The job that was running when close() began finished and saved its decision.
    expect((await states.load(PORTAL, '700')).version).toBe(1);
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });
});

describe('SLA timers', () => {
  const ENTRY = '800:next:1700000000000';
  const firingOf = (kind: 'warning' | 'breach') => ({ timerId: `${ENTRY}:${kind}`, kind, entryId: ENTRY });

  it('fires a due timer from the index through the engine, then drops it', async () => {
    gateway.setDeal('800', 'next', Date.now() - 10 * 3600_000);
    service = await start();
    await service.timerQueue.schedule(PORTAL, '800', {
      type: 'scheduleTimer',
      ...firingOf('warning'),
      fireAt: Date.now() - 1,
    });
    await waitFor(() => engine.calls.some((c) => c.kind === 'timer'), 8_000, 'the timer to fire');
    expect(engine.calls.find((c) => c.kind === 'timer')).toMatchObject({
      dealId: '800',
      timer: firingOf('warning'),
    });
    await waitFor(
      async () => (await service!.timerQueue.pending(PORTAL, `${ENTRY}:warning`)) === undefined,
      5_000,
      'the fired timer to leave the index',
    );
  });

  it('still fires a timer an older version stored as a BullMQ job, and starts no such worker without one', async () => {
    gateway.setDeal('800', 'next', Date.now() - 10 * 3600_000);
    service = await start();
    expect(service.timerQueue.legacy!.present).toBe(false);
    await service.close();
    // An older version armed it (compact job shape, short job id), due now.
    const queue = new LegacyTimerJobs(redis, redisKeys(prefix).bullPrefix(), silentLogger).queue;
    await queue.add(
      'breach',
      { p: PORTAL, t: `${ENTRY}:breach`, fireAt: Date.now() },
      { jobId: 'tm-legacy' },
    );
    service = await start();
    expect(service.timerQueue.legacy!.present).toBe(true);
    await waitFor(() => engine.calls.some((c) => c.kind === 'timer'), 8_000, 'the legacy timer to fire');
    expect(engine.calls.find((c) => c.kind === 'timer')).toMatchObject({
      dealId: '800',
      timer: firingOf('breach'),
    });
    await waitFor(
      async () => (await queue.getJob('tm-legacy')) === undefined,
      5_000,
      'the job to be dropped',
    );
    await queue.close();
  });
});
