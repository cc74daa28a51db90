import { P, reconcile, requiredProperties, type DealSnapshot, type DealState, type HistoryRow, type Playbook } from '@stagekeeper/shared';
import { HistoryStore } from '@stagekeeper/sync-service/state/history-store';
import { DealStateStore } from '@stagekeeper/sync-service/state/deal-state-store';
import { redisKeys } from '@stagekeeper/sync-service/state/keys';
import { createLogger } from '@stagekeeper/sync-service/log';
import { QUEUE_NAMES } from '@stagekeeper/sync-service/queue/job-ids';
import { TimerJobData } from '@stagekeeper/sync-service/queue/timer-queue';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { SandboxPortal } from '../sandbox/index';

export const DISCREPANCY_KINDS = [
  /** Not exactly one open SLA task, or the open one is not the current entry's. */
  'slaTask',
  /** An open Stagekeeper task that belongs to an earlier stage entry. */
  'staleOpenTask',
  /** Two HubSpot tasks carry the same engine key (a create was repeated). */
  'duplicateTask',
  /** Open task keys differ from the tasks the replay says the current entry owns. */
  'openTasks',
  /** A pending timer for another entry, or the pending timer ids differ from the replay's. */
  'timers',
  /** A written-back property differs from the replay's value (or was written when the replay writes none). */
  'property',
  /** A stage-history row for a visit HubSpot never recorded, or out of order. */
  'history',
  /** The service's stored state is not on HubSpot's current stage entry. */
  'state',
] as const;
export type DiscrepancyKind = (typeof DISCREPANCY_KINDS)[number];
export type Discrepancy = { dealId: string; kind: DiscrepancyKind; detail: string };

const MARKER = /\[stagekeeper:([^\]\s]+)\]/;
const blank = (v: string | null | undefined) => v === undefined || v === null || v === '';
/** HubSpot hands datetimes back as ISO, we write epoch-ms strings: compare both as instants when both parse. */
function sameValue(a: string | null | undefined, b: string | null | undefined): boolean {
  if (blank(a) && blank(b)) return true;
  if (blank(a) || blank(b)) return false;
  if (a === b) return true;
  const ms = (v: string) => (/^\d+$/.test(v) ? Number(v) : /^\d{4}-\d\d-\d\dT/.test(v) ? Date.parse(v) : NaN);
  const x = ms(a!);
  return !Number.isNaN(x) && x === ms(b!);
}

type Visit = { stage: string; enteredAt: number };

/** HubSpot's own stage history of a deal, from the sandbox's change log: creation stage, then every stage change. */
function hubspotVisits(portal: SandboxPortal, dealId: string, firstStage: string): Visit[] {
  const deal = portal.objects.get('deals', dealId);
  const visits: Visit[] = [{ stage: firstStage, enteredAt: deal.createdAt }];
  for (const c of portal.changes)
    if (c.objectType === 'deals' && c.objectId === dealId && c.kind === 'propertyChange' && c.propertyName === 'dealstage')
      visits.push({ stage: c.propertyValue, enteredAt: c.occurredAt });
  return visits;
}

/**
 * The replay. Input: the visits the service recorded as finished stage visits (its history rows, oldest first)
 * followed by HubSpot's current stage entry. Each becomes one snapshot of the deal (that stage, entered at that
 * time, the deal's final owner and gate properties, no task completed by a rep), fed in order to the engine's
 * `reconcile`, starting from no state, with `now` just after the visit began. Timer firings play no part: the
 * chaos SLAs are hours long and no timer is due during a run.
 * Output: the engine's final state and the last value it wrote for each property. The rows are checked against
 * HubSpot's own history separately, so the replay is over visits that really happened; which of them the service
 * saw (a move undone before the worker read the deal is never seen, and need not be) is its history's business.
 */
function replay(playbook: Playbook, final: DealSnapshot, visits: Visit[], now: number) {
  let state: DealState | null = null;
  const written: Record<string, string> = {};
  const clean: Record<string, string | null> = { ...final.properties };
  for (const k of Object.values(P)) if (k in clean) clean[k] = null;
  visits.forEach((v, i) => {
    const last = i === visits.length - 1;
    // Written-back values never go in: the replay must arrive at them on its own, counters included.
    const snapshot: DealSnapshot = { ...final, stage: v.stage, stageEnteredAt: v.enteredAt, properties: clean, tasks: {} };
    const r = reconcile({ playbook, state, snapshot, now: last ? now : v.enteredAt + 1 });
    for (const c of r.commands) if (c.type === 'setProperties') Object.assign(written, c.properties);
    state = r.state;
  });
  return { state: state as DealState | null, written };
}

export type VerifyInput = {
  portal: SandboxPortal;
  playbook: Playbook;
  redis: Redis;
  prefix: string;
  dealIds: string[];
  firstStage: string;
};

/** Compares every deal's end state in HubSpot, the queues and the service's stores with the replay. */
export async function verifyDeals(input: VerifyInput): Promise<Discrepancy[]> {
  const { portal, playbook, redis, prefix, dealIds } = input;
  const portalId = String(portal.portalId);
  const keys = redisKeys(prefix);
  const log = createLogger('silent');
  const history = new HistoryStore(redis, keys, log);
  const now = Date.now();
  const rows: HistoryRow[] = [...(await history.readWeek(portalId, now - 7 * 86_400_000)), ...(await history.readWeek(portalId, now))];
  const rowsByDeal = new Map<string, HistoryRow[]>();
  for (const r of rows) rowsByDeal.set(r.dealId, [...(rowsByDeal.get(r.dealId) ?? []), r]);

  const timerQueue = new Queue(QUEUE_NAMES.timers, { connection: redis, prefix: keys.bullPrefix() });
  const timerJobs = await timerQueue.getJobs(['delayed', 'waiting', 'prioritized', 'active', 'paused']);
  await timerQueue.close();
  const timersByDeal = new Map<string, TimerJobData[]>();
  // Stored jobs are compact; the worker's parser gives back the full shape.
  for (const j of timerJobs) {
    if (!j?.data) continue;
    const d = TimerJobData.parse(j.data);
    timersByDeal.set(d.dealId, [...(timersByDeal.get(d.dealId) ?? []), d]);
  }

  const states = await new DealStateStore(redis, keys, log).loadMany(portalId, dealIds);
  const props = requiredProperties(playbook);
  const out: Discrepancy[] = [];

  dealIds.forEach((dealId, index) => {
    const bad = (kind: DiscrepancyKind, detail: string) => out.push({ dealId, kind, detail });
    const deal = portal.objects.get('deals', dealId);
    const value = (p: string) => (blank(deal.props.get(p)) ? null : deal.props.get(p)!);
    const stage = value('dealstage')!;
    const enteredAt = Date.parse(value(`hs_v2_date_entered_${stage}`) ?? '');
    const entryId = `${dealId}:${stage}:${enteredAt}`;

    // History: only visits HubSpot recorded, each once, in HubSpot's order.
    const truth = hubspotVisits(portal, dealId, input.firstStage);
    const mine = (rowsByDeal.get(dealId) ?? []).sort((a, b) => a.enteredAt - b.enteredAt);
    let cursor = 0;
    for (const r of mine) {
      const at = truth.findIndex((v, i) => i >= cursor && v.stage === r.stage && v.enteredAt === r.enteredAt);
      if (at < 0 || at === truth.length - 1) bad('history', `row ${r.stage}@${r.enteredAt} is not a finished HubSpot visit`);
      else cursor = at + 1;
    }

    const final: DealSnapshot = {
      dealId,
      exists: true,
      pipeline: value('pipeline'),
      stage,
      ownerId: value('hubspot_owner_id'),
      stageEnteredAt: enteredAt,
      properties: Object.fromEntries(props.map((p) => [p, value(p)])),
      tasks: {},
    };
    const visits: Visit[] = [...mine.map((r) => ({ stage: r.stage, enteredAt: r.enteredAt })), { stage, enteredAt }];
    const expected = replay(playbook, final, visits, now);

    // Tasks as HubSpot has them.
    const tasks = portal.associations
      .ids('deals', dealId, 'tasks')
      .map((id) => portal.objects.get('tasks', id))
      .map((t) => ({ key: MARKER.exec(t.props.get('hs_task_body') ?? '')?.[1] ?? '', open: t.props.get('hs_task_status') !== 'COMPLETED' }))
      .filter((t) => t.key);
    const seen = new Map<string, number>();
    for (const t of tasks) seen.set(t.key, (seen.get(t.key) ?? 0) + 1);
    for (const [key, n] of seen) if (n > 1) bad('duplicateTask', `${n} tasks for ${key}`);
    const open = tasks.filter((t) => t.open);
    const openSla = open.filter((t) => t.key.endsWith(':sla'));
    if (openSla.length !== 1 || openSla[0]!.key !== `${entryId}:sla`)
      bad('slaTask', `open SLA tasks [${openSla.map((t) => t.key).join(', ')}], expected ${entryId}:sla`);
    for (const t of open) if (!t.key.startsWith(`${entryId}:`)) bad('staleOpenTask', t.key);
    const wantOpen = (expected.state?.current?.tasks ?? []).map((t) => t.key).sort();
    const haveOpen = [...new Set(open.map((t) => t.key))].sort();
    if (wantOpen.join() !== haveOpen.join()) bad('openTasks', `open [${haveOpen.join(', ')}], replay [${wantOpen.join(', ')}]`);

    // Timers.
    const pending = timersByDeal.get(dealId) ?? [];
    for (const t of pending) if (t.firing.entryId !== entryId) bad('timers', `timer ${t.firing.timerId} for entry ${t.firing.entryId}`);
    const wantTimers = (expected.state?.current?.sla?.timers ?? []).map((t) => t.timerId).sort();
    const haveTimers = [...new Set(pending.map((t) => t.firing.timerId))].sort();
    if (pending.length !== haveTimers.length) bad('timers', `${pending.length - haveTimers.length} duplicate timer job(s)`);
    if (wantTimers.join() !== haveTimers.join()) bad('timers', `pending [${haveTimers.join(', ')}], replay [${wantTimers.join(', ')}]`);

    // Written-back properties: every one the replay writes, and none it does not.
    for (const p of Object.values(P)) {
      const want = expected.written[p];
      const have = value(p);
      if (want === undefined ? !blank(have) : !sameValue(have, want)) bad('property', `${p}: HubSpot ${have ?? '∅'}, replay ${want ?? '(not written)'}`);
    }

    const stored = states[index]!.state;
    if (stored?.current?.entryId !== entryId) bad('state', `stored entry ${stored?.current?.entryId ?? '∅'}, HubSpot ${entryId}`);
  });
  return out;
}

export function countByKind(list: Discrepancy[]): Record<DiscrepancyKind, number> {
  const counts = Object.fromEntries(DISCREPANCY_KINDS.map((k) => [k, 0])) as Record<DiscrepancyKind, number>;
  for (const d of list) counts[d.kind]++;
  return counts;
}
