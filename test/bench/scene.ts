/**
 * The stage the service benchmarks play on: a sandbox portal in this process (HubSpot, reached over HTTP, its
 * request log the count of calls), deals made and moved the way a rep or an import does (through the portal, so
 * the service hears of it by webhook), and ways to tell that the service has caught up, seen from HubSpot's side.
 */
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { QUEUE_NAMES } from '@stagekeeper/sync-service/queue/job-ids';
import { startSandbox, type Sandbox } from '@stagekeeper/sync-service/sandbox-mode';
import { redisKeys } from '@stagekeeper/sync-service/state/keys';
import { CHAOS_OWNERS, CHAOS_PIPELINE, CHAOS_STAGES, chaosPlaybook } from '../chaos/playbook';
import { sleep } from './common';

export const STAGES = CHAOS_STAGES;
const MARKER = /\[stagekeeper:([^\]\s]+)\]/;

/** A fresh portal per scenario: a new install's first sweep reconciles recently modified deals of older runs. */
export async function withPortal<T>(fn: (sandbox: Sandbox) => Promise<T>): Promise<T> {
  const sandbox = await startSandbox({ playbook: chaosPlaybook() });
  try {
    return await fn(sandbox);
  } finally {
    await sandbox.close();
    sandbox.portal.close();
  }
}

export function createDeals(sandbox: Sandbox, n: number, from = 0): string[] {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    const owner = CHAOS_OWNERS[i % CHAOS_OWNERS.length]!;
    return sandbox.portal.ui.createDeal(
      {
        dealname: `Bench ${i}`,
        pipeline: CHAOS_PIPELINE,
        dealstage: CHAOS_STAGES[0],
        hubspot_owner_id: owner,
      },
      { userId: Number(owner) },
    ).id;
  });
}

/** Moves a deal one stage on, as a rep does in HubSpot; returns the stage visit the service must open. */
export function moveOn(sandbox: Sandbox, dealId: string): string {
  const from = sandbox.portal.objects.get('deals', dealId).props.get('dealstage')!;
  const to = STAGES[(STAGES.indexOf(from as (typeof STAGES)[number]) + 1) % STAGES.length]!;
  sandbox.portal.ui.moveDeal(dealId, to, { userId: Number(CHAOS_OWNERS[0]) });
  return entryOf(sandbox, dealId);
}

export const entryOf = (sandbox: Sandbox, dealId: string) => {
  const props = sandbox.portal.objects.get('deals', dealId).props;
  const stage = props.get('dealstage')!;
  return `${dealId}:${stage}:${Date.parse(props.get(`hs_v2_date_entered_${stage}`)!)}`;
};

/** The service's visible work for a stage visit: its SLA task exists in HubSpot. */
export const slaTaskExists = (sandbox: Sandbox, dealId: string, entryId: string) =>
  sandbox.portal.associations
    .ids('deals', dealId, 'tasks')
    .some(
      (t) =>
        MARKER.exec(sandbox.portal.objects.get('tasks', t).props.get('hs_task_body') ?? '')?.[1] ===
        `${entryId}:sla`,
    );

/**
 * Until every moved deal has its new visit's SLA task and HubSpot has heard nothing from the service for `quietMs`
 * (the last write-backs done). Reads the portal only, so it adds no Redis commands to what a bench counts.
 */
export async function quiet(
  sandbox: Sandbox,
  visits: Map<string, string>,
  deadline: number,
  quietMs = 1_000,
  /** Called once every SLA task exists, before the quiet wait (card readers stop here: their calls are not the move's). */
  onTasksDone?: () => Promise<void>,
): Promise<boolean> {
  let tasksDone = false;
  const pending = new Map(visits);
  let seen = sandbox.portal.requests.length;
  let still = Date.now();
  let lastNote = Date.now();
  for (;;) {
    for (const [deal, entry] of pending) if (slaTaskExists(sandbox, deal, entry)) pending.delete(deal);
    if (pending.size === 0 && !tasksDone) {
      tasksDone = true;
      await onTasksDone?.();
    }
    const n = sandbox.portal.requests.length;
    if (n !== seen) {
      seen = n;
      still = Date.now();
    }
    if (pending.size === 0 && Date.now() - still >= quietMs) return true;
    if (Date.now() > deadline) return false;
    if (Date.now() - lastNote > 10_000) {
      lastNote = Date.now();
      process.stderr.write(
        `  ... ${pending.size} of ${visits.size} deals without their new SLA task, ${n} HubSpot requests\n`,
      );
    }
    await sleep(pending.size > 0 ? 50 : 100);
  }
}

/** The service's queues, watched from outside (BullMQ job counts): for setup, where Redis commands do not count. */
export class QueueWatch {
  private readonly redis: Redis;
  private readonly queues: Queue[];
  constructor(redisUrl: string, prefix: string) {
    this.redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
    const bull = redisKeys(prefix).bullPrefix();
    this.queues = [QUEUE_NAMES.ingest, QUEUE_NAMES.reconcile].map(
      (name) => new Queue(name, { connection: this.redis, prefix: bull }),
    );
  }

  /** Until the webhooks are delivered and the ingest and reconcile queues have been empty three checks running. */
  async idle(sandbox: Sandbox, deadline: number): Promise<boolean> {
    let calm = 0;
    while (calm < 3) {
      if (Date.now() > deadline) return false;
      await Promise.race([sandbox.portal.webhooks.drain(), sleep(1_000)]);
      const counts = await Promise.all(
        this.queues.map((q) => q.getJobCounts('waiting', 'active', 'delayed', 'prioritized')),
      );
      calm = counts.every((c) => Object.values(c).every((n) => n === 0)) ? calm + 1 : 0;
      await sleep(100);
    }
    return true;
  }

  async close(): Promise<void> {
    await Promise.all(this.queues.map((q) => q.close()));
    await this.redis.quit();
  }
}
