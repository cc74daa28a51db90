import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { loadExamplePlaybook } from '@stagekeeper/shared';
import { loadConfig } from '@stagekeeper/sync-service/config';
import { createLogger } from '@stagekeeper/sync-service/log';
import { startSandbox, type Sandbox } from '@stagekeeper/sync-service/sandbox-mode';
import { startStack, type Stack } from '@stagekeeper/sync-service/stack';
import { TELEHEALTH } from '@stagekeeper/sync-service/demo/playbook';
import { deleteKeys, e2eEnv } from './harness';
import { until } from '../quickstart/until';

// Seed 000: New Lead, 15 minutes to first contact, owned by the intake rep.
const PIPELINE = '812404417';
const NEW_LEAD = '1180512201';
const CONTACT_ATTEMPTED = TELEHEALTH.stages.contactAttempted;
const REP = '52841907';
const METRICS_TOKEN = 'metrics-token-for-this-test';

let sandbox: Sandbox | undefined;
let stack: Stack | undefined;
let prefix = '';
afterEach(async () => {
  await stack?.close();
  await sandbox?.close();
  await deleteKeys(prefix);
  stack = sandbox = undefined;
});

/** SERVICE_ROLE=all as main.ts starts it: HTTP here, the workers in a worker thread (worker-thread.ts). */
async function start(
  extraEnv: Record<string, string> = {},
  onCrash?: (err: Error) => void,
  reconcilePollMs?: number,
) {
  prefix = `sktest-thread-${randomUUID().slice(0, 8)}`;
  const playbook = loadExamplePlaybook('telehealth');
  const env = { ...e2eEnv(prefix), METRICS_TOKEN };
  const config = loadConfig(env);
  sandbox = await startSandbox({ playbook });
  stack = await startStack({
    config,
    playbook,
    sandbox,
    host: '127.0.0.1',
    log: createLogger('silent'),
    workers: {
      thread: {
        env: { ...env, ...extraEnv },
        ...(onCrash ? { onCrash } : {}),
        ...(reconcilePollMs ? { reconcilePollMs } : {}),
      },
    },
  });
  return { sandbox, stack };
}

/** Linux nice of each thread of this process (/proc/self/task/<tid>/stat, field 19). */
const threadNices = () =>
  readdirSync('/proc/self/task').map((tid) => {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
  });

const openTasks = (s: Sandbox, dealId: string) =>
  s.portal.associations
    .ids('deals', dealId, 'tasks')
    .filter((t) => s.portal.objects.get('tasks', t).props.get('hs_task_status') !== 'COMPLETED');

describe('SERVICE_ROLE=all: the workers in a worker thread (issue #18: the card keeps its own event loop)', () => {
  it("works a rep's new deal from the thread: its SLA task is made, and /metrics counts the thread's calls", async () => {
    const { sandbox, stack } = await start();
    // This thread has no workers: whatever works the deal is the other one.
    expect(stack.thread).toBeDefined();
    expect(stack.service.reconcilePoller).toBeUndefined();
    expect(stack.service.timerPoller).toBeUndefined();
    // Bulk work yields: the workers' thread, and no other, runs at a lower priority than HTTP's (Linux nice 10).
    if (process.platform === 'linux') expect(threadNices().filter((n) => n === 10)).toHaveLength(1);
    const id = sandbox.portal.ui.createDeal(
      { dealname: 'Thread', pipeline: PIPELINE, dealstage: NEW_LEAD, hubspot_owner_id: REP },
      { userId: Number(REP) },
    ).id;
    await until(
      'the SLA task of the new deal',
      async () => openTasks(sandbox, id).length > 0 || undefined,
      20_000,
    );

    const res = await fetch(`${stack.service.url}/metrics`, {
      headers: { authorization: `Bearer ${METRICS_TOKEN}` },
    });
    expect(res.status).toBe(200);
    const text = await res.text();
    // Task creation happens only in the thread (the main thread makes no HubSpot writes here).
    expect(text).toMatch(
      /stagekeeper_hubspot_calls_total\{[^}]*operation="tasks\.batch\.create"[^}]*\} [1-9]/,
    );
    // Process figures once: the thread's copies are left out, not summed into the main thread's (this test runs
    // in the stack's process, so its CPU so far bounds the process's).
    const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
    const cpu = process.cpuUsage();
    expect(value('stagekeeper_process_cpu_seconds_total')).toBeLessThanOrEqual((cpu.user + cpu.system) / 1e6);
    expect(value('stagekeeper_process_start_time_seconds')).toBeCloseTo(
      Date.now() / 1000 - process.uptime(),
      -1,
    );
  });

  it("wakes the thread's reconcile poller when a rep's move falls due, not at its next poll", async () => {
    // The thread polls once an hour here: only the wake the main thread forwards gets the move worked in time.
    const { sandbox } = await start({}, undefined, 3_600_000);
    const id = sandbox.portal.ui.createDeal(
      { dealname: 'Woken', pipeline: PIPELINE, dealstage: NEW_LEAD, hubspot_owner_id: REP },
      { userId: Number(REP) },
    ).id;
    const [first] = await until(
      'the SLA task of the new deal',
      async () => (openTasks(sandbox, id).length > 0 ? openTasks(sandbox, id) : undefined),
      20_000,
    );
    // Seed 000: a logged contact attempt, then the move out of New Lead, which closes its first-contact task.
    sandbox.portal.ui.logContactAttempt(id, { userId: Number(REP) });
    sandbox.portal.ui.moveDeal(id, CONTACT_ATTEMPTED, { userId: Number(REP) });
    await until(
      "the New Lead task closed by the move's reconcile",
      async () => !openTasks(sandbox, id).includes(first!) || undefined,
      20_000,
    );
  });

  it('a thread that cannot start fails the start with its reason', async () => {
    await expect(start({ KEY_PREFIX: 'not a prefix' })).rejects.toThrow(
      /worker thread failed to start: .*KEY_PREFIX/,
    );
    stack = undefined;
  });

  it('close drains the thread and ends it without reporting a crash', async () => {
    const crashes: Error[] = [];
    const { stack } = await start({}, (err) => crashes.push(err));
    await stack.close();
    expect(crashes).toEqual([]);
  });
});
