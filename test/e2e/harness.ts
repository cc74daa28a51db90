import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { loadExamplePlaybook, type Playbook } from '@stagekeeper/shared';
import { loadConfig } from '@stagekeeper/sync-service/config';
import { createLogger } from '@stagekeeper/sync-service/log';
import { startSandbox, type Sandbox } from '@stagekeeper/sync-service/sandbox-mode';
import { startStack, type Stack } from '@stagekeeper/sync-service/stack';
import { deleteKeysUnder } from '@stagekeeper/sync-service/state/delete-prefix';
import { manualClock, type ManualClock, type StoredObject } from '../sandbox/index';
import { createObject } from '../sandbox/crm';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Monday 2026-11-23 09:00 in New York: the telehealth playbook's intake and clinical calendars are open. */
export const MONDAY_9AM_NY = Date.parse('2026-11-23T14:00:00Z');

export type E2E = Awaited<ReturnType<typeof startE2E>>;

/** The environment an end-to-end stack reads: sandbox mode under `prefix`, quiet, short debounce, no sweeps. */
export const e2eEnv = (prefix: string) => ({
  SANDBOX: 'true',
  KEY_PREFIX: prefix,
  PORT: '0',
  REDIS_URL,
  LOG_LEVEL: 'silent',
  RECONCILE_DEBOUNCE_MS: '10',
  SWEEP_INTERVAL_MS: '3600000',
});

/**
 * The whole product on one machine: the sandbox portal (faithful fake HubSpot) and the service, over real HTTP,
 * with a real Redis under a test-only key prefix. Time is a manual clock shared by portal and service; SLA
 * timers fire once the clock passes their fire time (the service's timer poller reads the same clock, and is
 * woken when the clock moves), never by sleeping.
 */
export async function startE2E(
  opts: { playbook?: Playbook; clock?: ManualClock; prefix?: string; sandbox?: Sandbox } = {},
) {
  const clock = opts.clock ?? manualClock(MONDAY_9AM_NY);
  const prefix = opts.prefix ?? `sktest-e2e-${randomUUID().slice(0, 8)}`;
  const playbook = opts.playbook ?? loadExamplePlaybook('telehealth');
  const config = loadConfig(e2eEnv(prefix));
  const sandbox = opts.sandbox ?? (await startSandbox({ playbook, now: clock.now }));
  const portal = sandbox.portal;
  let stack: Stack = await boot();
  portal.webhooks.configure({ batchWindowMs: 5, retryDelayMs: (n: number) => 20 * n });

  async function boot(): Promise<Stack> {
    return startStack({
      config,
      playbook,
      sandbox,
      clock: clock.now,
      host: '127.0.0.1',
      log: createLogger('silent'),
      retry: { baseDelayMs: 5, maxDelayMs: 50 },
    });
  }

  const queues = () => [stack.service.ingestQueue.queue, stack.service.sweepQueue.queue];

  /**
   * Waits until webhooks are delivered and no ingest, reconcile or due timer is waiting or running (an accepted
   * webhook is an ingest job until the worker fans it out, so an empty reconcile queue alone is not quiet).
   */
  async function settle(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let quiet = 0;
    while (quiet < 3) {
      if (Date.now() > deadline) throw new Error('system did not settle');
      await portal.webhooks.drain();
      let busy = 0;
      const [ingest, sweep] = queues();
      const counts = await Promise.all([
        // Delayed included: an ingest job waiting out its retry backoff is still work to come.
        ingest!.getJobCounts('waiting', 'active', 'delayed', 'prioritized'),
        // Every reconcile request, due or not (debounce, retry backoff) or running (leased).
        stack.service.reconcileQueue.counts(),
        sweep!.getJobCounts('waiting', 'active'),
      ]);
      busy += counts.flatMap((c) => Object.values(c)).reduce((a, b) => a + b, 0);
      // Timers due and not claimed yet, then the poller's claims in flight (read in this order: a claim in between
      // is still seen as busy).
      busy += (await stack.service.timerQueue.counts(clock.now())).waiting;
      if (stack.service.timerPoller?.busy()) busy++;
      if (stack.service.reconcilePoller?.busy()) busy++;
      quiet = busy === 0 ? quiet + 1 : 0;
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Moves the shared clock forward and fires every SLA timer that is now due. */
  async function advance(ms: number): Promise<void> {
    clock.advance(ms);
    stack.service.timerPoller?.wake();
    await settle();
  }

  const deal = (id: string) => portal.objects.get('deals', id);
  const props = (id: string) => Object.fromEntries(deal(id).props);
  /** The deal's tasks with the engine key read back from the marker the adapter writes into the body. */
  const tasks = (dealId: string) =>
    portal.associations
      .ids('deals', dealId, 'tasks')
      .map((id) => portal.objects.get('tasks', id))
      .map((t: StoredObject) => ({
        id: t.id,
        key: /\[stagekeeper:([^\]\s]+)\]/.exec(t.props.get('hs_task_body') ?? '')?.[1] ?? '',
        subject: t.props.get('hs_task_subject') ?? '',
        status: t.props.get('hs_task_status') ?? '',
        owner: t.props.get('hubspot_owner_id') ?? null,
        dueAt: Number(t.props.get('hs_timestamp') ? Date.parse(t.props.get('hs_timestamp')!) : NaN),
        body: t.props.get('hs_task_body') ?? '',
      }));
  const openTasks = (dealId: string) => tasks(dealId).filter((t) => t.status !== 'COMPLETED');
  /**
   * A second copy of a Stagekeeper task (same marker) on `dealId`, as a create in flight while Redis lost its
   * data lands beside the one the re-seeded sweep made. Returns the copy's id.
   */
  const copyTask = (taskId: string, dealId: string): string => {
    const original = portal.objects.get('tasks', taskId);
    const names = ['hs_timestamp', 'hs_task_subject', 'hs_task_body', 'hs_task_status', 'hubspot_owner_id'];
    return createObject(
      portal,
      'tasks',
      {
        properties: Object.fromEntries(names.map((p) => [p, original.props.get(p)!])),
        associations: [
          { to: { id: dealId }, types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: 216 }] },
        ],
      },
      { changeSource: 'INTEGRATION', sourceId: 'stagekeeper' },
    ).id;
  };

  async function restart(): Promise<void> {
    await stack.close();
    stack = await boot();
  }

  async function close(): Promise<void> {
    await stack.close();
    await sandbox.close();
    await deleteKeys(prefix);
  }

  return {
    clock,
    portal,
    playbook,
    prefix,
    get stack() {
      return stack;
    },
    settle,
    advance,
    deal,
    props,
    tasks,
    openTasks,
    copyTask,
    restart,
    close,
  };
}

/** Removes this test's keys only (never FLUSHDB: the Redis is shared). */
export async function deleteKeys(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  await deleteKeysUnder(redis, prefix);
  await redis.quit();
}
