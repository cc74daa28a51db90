import { P, parseDuration, type HistoryRow, type Playbook } from '@stagekeeper/shared';
import { HistoryStore } from '@stagekeeper/sync-service/state/history-store';
import { DealStateStore } from '@stagekeeper/sync-service/state/deal-state-store';
import { redisKeys } from '@stagekeeper/sync-service/state/keys';
import { createLogger } from '@stagekeeper/sync-service/log';
import { ObjectMap } from '@stagekeeper/sync-service/hubspot/objectmap';
import { LegacyTimerJobs } from '@stagekeeper/sync-service/queue/legacy-timer-jobs';
import { TimerQueue, type PendingTimer } from '@stagekeeper/sync-service/queue/timers';
import type { Redis } from 'ioredis';
import type { SandboxPortal } from '../sandbox/index';

export const DISCREPANCY_KINDS = [
  /** Not exactly one open SLA task, or the open one is not the current entry's. */
  'slaTask',
  /** An open Stagekeeper task that belongs to an earlier stage entry. */
  'staleOpenTask',
  /** Two HubSpot tasks carry the same engine key (a create was repeated). */
  'duplicateTask',
  /** A pending timer for another entry, or two pending copies of one timer (the index and a legacy job). */
  'timers',
  /** A stage-history row for a visit HubSpot never recorded, or out of order. */
  'history',
  /** The service's stored state is not on HubSpot's current stage entry. */
  'state',
  /** A due time (SLA task, due/warning properties) that is not entry + target on the stage's calendar. */
  'due',
  /** Breached when not past due, or past due and not breached (current visit or a finished one's history row). */
  'breach',
  /** Past the escalation point and no escalation task for the entry. */
  'escalation',
  /** The open SLA task is not the deal owner's and no handoff task tells the new owner. */
  'owner',
  /** A deleted or merged-away deal still has open Stagekeeper tasks or pending timers. */
  'gone',
  /** The gate's written-back status and missing list disagree (a clear gate with a list, a block without one). */
  'gate',
] as const;
export type DiscrepancyKind = (typeof DISCREPANCY_KINDS)[number];
/**
 * `knownGap`: a finding the run reports but does not fail on, because it is a known, filed gap rather than a
 * regression: a merge survivor's SLA due times and task owner (HubSpot's merge fills the survivor's blank
 * properties from the merged deal; the engine clears those of the current visit its state holds blank since
 * engine/merges.ts, the 'gate' check below sees a clear gate's list filled, and no run since has shown a survivor
 * finding, but the cause of the last one seen is not known to be the same); a task created for a deal in the
 * moment it was deleted (the create, decided on a read from before the deletion, lands after it, and
 * the deletion's own run has already closed the tasks it knew); a repeated create on a merged-away deal (a lost
 * create response is recovered by listing the deal's associations, which the merge moved to the survivor); an
 * open task on a deleted deal whose create answer was lost (the service still holds only its write-ahead marker,
 * and recovery lists the associations of a deal that no longer has any). A deleted deal whose deletion webhook
 * was lost is no longer one: the sweep's audit of tracked deals finds it.
 */
export type Discrepancy = {
  dealId: string;
  kind: DiscrepancyKind;
  detail: string;
  knownGap?: true;
  /** The engine key of the task a finding is about, where it is about one. */
  taskKey?: string;
};

const MARKER = /\[stagekeeper:([^\]\s]+)\]/;
const blank = (v: string | null | undefined) => v === undefined || v === null || v === '';
/** HubSpot hands datetimes back as ISO, we write epoch-ms strings: both read as instants. */
const instant = (v: string | null | undefined): number | null => {
  if (blank(v)) return null;
  const ms = /^\d+$/.test(v!) ? Number(v) : Date.parse(v!);
  return Number.isNaN(ms) ? null : ms;
};
const iso = (ms: number | null) => (ms === null ? '∅' : new Date(ms).toISOString());

type Visit = { stage: string; enteredAt: number };

/** HubSpot's own stage history of a deal, from the sandbox's change log: creation stage, then every stage change. */
function hubspotVisits(
  portal: SandboxPortal,
  dealId: string,
  firstStage: string,
  createdAt: number,
): Visit[] {
  const visits: Visit[] = [{ stage: firstStage, enteredAt: createdAt }];
  for (const c of portal.changes)
    if (
      c.objectType === 'deals' &&
      c.objectId === dealId &&
      c.kind === 'propertyChange' &&
      c.propertyName === 'dealstage'
    )
      visits.push({ stage: c.propertyValue, enteredAt: c.occurredAt });
  return visits;
}

/**
 * The SLA contract of a stage as the playbook states it, computed here without the engine: the chaos stages use
 * calendar time on a 24/7 calendar with no pauses or overrides, so due = entry + target, the warning at
 * warningAt % of the target and each escalation level at its % of the target.
 */
export type StageRule = { targetMs: number; warningPct: number; escalationPcts: number[] };
export function stageRules(playbook: Playbook): Map<string, StageRule> {
  const out = new Map<string, StageRule>();
  for (const pl of playbook.pipelines)
    for (const st of pl.stages) {
      if (!st.sla) continue;
      if (st.sla.basis !== 'calendar' || st.sla.overrides.length || st.sla.pauseWhen.length)
        throw new Error(
          `chaos verifier: stage ${st.id} must use plain calendar time (its rules are computed without the engine)`,
        );
      out.set(st.id, {
        targetMs: parseDuration(st.sla.target)!,
        warningPct: st.sla.warningAt,
        escalationPcts: st.sla.escalations.map((l) => l.at),
      });
    }
  return out;
}

/** What a finished visit's history row must say: breached iff it was left at or after its due time. */
export function checkHistoryRow(
  rule: StageRule,
  row: Pick<HistoryRow, 'enteredAt' | 'exitedAt' | 'slaOutcome' | 'breachedAt'>,
): string | null {
  if (row.slaOutcome !== 'met' && row.slaOutcome !== 'breached') return null;
  const due = row.enteredAt + rule.targetMs;
  const late = row.exitedAt >= due;
  if (late !== (row.slaOutcome === 'breached'))
    return `visit left ${iso(row.exitedAt)}, due ${iso(due)}, recorded ${row.slaOutcome}`;
  if (late && row.breachedAt !== undefined && row.breachedAt !== null && row.breachedAt !== due)
    return `breached at ${iso(row.breachedAt)}, due ${iso(due)}`;
  return null;
}

/** What the current visit must show at `now` (after every timer due by then has run). */
export function checkCurrentVisit(
  rule: StageRule,
  enteredAt: number,
  now: number,
  seen: {
    slaTaskDue: number | null;
    dueProp: number | null;
    warningProp: number | null;
    status: string | null;
    breachedAt: number | null;
    escalated: boolean;
  },
): { kind: DiscrepancyKind; detail: string }[] {
  const out: { kind: DiscrepancyKind; detail: string }[] = [];
  const due = enteredAt + rule.targetMs;
  const warning = enteredAt + (rule.targetMs * rule.warningPct) / 100;
  if (seen.slaTaskDue !== due)
    out.push({ kind: 'due', detail: `SLA task due ${iso(seen.slaTaskDue)}, entry + target ${iso(due)}` });
  if (seen.dueProp !== due)
    out.push({ kind: 'due', detail: `${P.slaDueAt} ${iso(seen.dueProp)}, entry + target ${iso(due)}` });
  if (seen.warningProp !== warning)
    out.push({ kind: 'due', detail: `${P.slaWarningAt} ${iso(seen.warningProp)}, expected ${iso(warning)}` });
  const breached = seen.status === 'breached';
  if (now >= due && !breached)
    out.push({
      kind: 'breach',
      detail: `past due ${iso(due)} at ${iso(now)} but status ${seen.status ?? '∅'}`,
    });
  if (now < due && breached)
    out.push({ kind: 'breach', detail: `breached before due ${iso(due)} (now ${iso(now)})` });
  if (breached && seen.breachedAt !== due)
    out.push({ kind: 'breach', detail: `breached at ${iso(seen.breachedAt)}, due ${iso(due)}` });
  const firstLevel = rule.escalationPcts[0];
  if (firstLevel !== undefined && now >= enteredAt + (rule.targetMs * firstLevel) / 100 && !seen.escalated)
    out.push({ kind: 'escalation', detail: `past ${firstLevel} % of the window and no escalation task` });
  return out;
}

/** The gate's two written-back properties agree: a list of what is missing exactly while the gate blocks. */
export function checkGateProperties(status: string | null, missing: string | null): string | null {
  const clear = status === null || status === 'clear';
  if (clear && missing !== null) return `gate ${status ?? '∅'} with a missing list`;
  if (!clear && missing === null) return `gate ${status} without a missing list`;
  return null;
}

export type VerifyInput = {
  portal: SandboxPortal;
  playbook: Playbook;
  redis: Redis;
  prefix: string;
  dealIds: string[];
  firstStage: string;
  /** The run's clock (fast); the checks are made at its reading when they start. */
  now: () => number;
  /** Deals with a webhook event that was dropped or never delivered. */
  lostEvents?: Set<string>;
};

/**
 * Checks every deal's end state in HubSpot, the queues and the service's stores against the playbook's rules
 * (computed here, not by the engine) and HubSpot's own history. Meant for a settled system: no job in flight and
 * no timer left, so nothing changes while it reads.
 */
export async function verifyDeals(input: VerifyInput): Promise<Discrepancy[]> {
  const { portal, playbook, redis, prefix, dealIds } = input;
  const portalId = String(portal.portalId);
  const keys = redisKeys(prefix);
  const log = createLogger('silent');
  const rules = stageRules(playbook);
  const remediationStages = new Map<string, string>();
  for (const pl of playbook.pipelines)
    for (const st of pl.stages) {
      const gate = st.gate ?? pl.gate;
      if (gate?.onBlocked === 'remediate') remediationStages.set(st.id, gate.stage);
    }
  const now = input.now();
  const history = new HistoryStore(redis, keys, log);
  const rows: HistoryRow[] = [];
  for (let w = 0; w < 3; w++) rows.push(...(await history.readWeek(portalId, now - w * 7 * 86_400_000)));
  const rowsByDeal = new Map<string, HistoryRow[]>();
  for (const r of rows) rowsByDeal.set(r.dealId, [...(rowsByDeal.get(r.dealId) ?? []), r]);

  // The due index and any BullMQ timer job an older version armed (none in a chaos run, but they would count).
  const legacy = new LegacyTimerJobs(redis, keys.bullPrefix(), log);
  await legacy.refresh();
  const pendingTimers = await new TimerQueue(redis, keys, Date.now, legacy).list();
  await legacy.close();
  const timersByDeal = new Map<string, PendingTimer[]>();
  for (const d of pendingTimers) timersByDeal.set(d.dealId, [...(timersByDeal.get(d.dealId) ?? []), d]);

  // Every Stagekeeper task in the portal, by the deal its key names (a merge moves tasks to the survivor).
  const allTasks = portal.objects.all('tasks').map((t) => ({
    createdAt: t.createdAt,
    key: MARKER.exec(t.props.get('hs_task_body') ?? '')?.[1] ?? '',
    open: t.props.get('hs_task_status') !== 'COMPLETED',
    dueAt: instant(t.props.get('hs_timestamp')),
    owner: t.props.get('hubspot_owner_id') ?? null,
  }));
  const tasksOf = (dealId: string) => allTasks.filter((t) => t.key.startsWith(`${dealId}:`));

  const states = await new DealStateStore(redis, keys, log).loadMany(portalId, dealIds);
  const taskMaps = await new ObjectMap(redis, prefix, 'taskmap').getMany(portalId, dealIds);
  const out: Discrepancy[] = [];

  dealIds.forEach((dealId, index) => {
    const survivor = portal.changes.some((c) => c.kind === 'merge' && c.primaryObjectId === dealId);
    const bad = (kind: DiscrepancyKind, detail: string) =>
      out.push({
        dealId,
        kind,
        detail,
        ...(survivor && (kind === 'due' || kind === 'owner') ? { knownGap: true as const } : {}),
      });
    const tasks = tasksOf(dealId);
    const deal = portal.objects.find('deals', dealId);
    const mergedAway = deal !== undefined && deal.id !== dealId;
    const seen = new Map<string, number>();
    for (const t of tasks) seen.set(t.key, (seen.get(t.key) ?? 0) + 1);
    for (const [key, n] of seen)
      if (n > 1)
        out.push({
          dealId,
          kind: 'duplicateTask',
          detail: `${n} tasks for ${key}`,
          ...(mergedAway ? { knownGap: true as const } : {}),
        });
    const open = tasks.filter((t) => t.open);
    const pending = timersByDeal.get(dealId) ?? [];

    // Deleted, or merged into another deal: nothing of it may stay open or armed.
    if (deal?.id !== dealId) {
      const goneAt = Math.min(
        ...portal.changes
          .filter(
            (c) =>
              c.objectType === 'deals' &&
              (c.kind === 'deletion'
                ? c.objectId === dealId
                : c.kind === 'merge' && c.mergedObjectIds.includes(dealId)),
          )
          .map((c) => c.occurredAt),
      );
      const neverAnswered = (key: string) => taskMaps.get(dealId)?.get(key)?.state === 'pending';
      for (const t of open)
        out.push({
          dealId,
          kind: 'gone',
          taskKey: t.key,
          detail: `open task ${t.key} on a ${deal ? 'merged-away' : 'deleted'} deal${
            t.createdAt >= goneAt
              ? ' (created after it was gone)'
              : !deal && neverAnswered(t.key)
                ? ' (its create answer was lost)'
                : !deal && input.lostEvents?.has(dealId)
                  ? ' (a webhook of it was lost)'
                  : ''
          }`,
          ...(t.createdAt >= goneAt || (!deal && neverAnswered(t.key)) ? { knownGap: true as const } : {}),
        });
      if (pending.length) bad('gone', `${pending.length} timer(s) pending for a gone deal`);
      return;
    }

    const value = (p: string) => (blank(deal.props.get(p)) ? null : deal.props.get(p)!);
    const stage = value('dealstage')!;
    const enteredAt = Date.parse(value(`hs_v2_date_entered_${stage}`) ?? '');
    const entryId = `${dealId}:${stage}:${enteredAt}`;

    // History: only visits HubSpot recorded, each once, in HubSpot's order; each SLA outcome by the rule.
    const truth = hubspotVisits(portal, dealId, input.firstStage, deal.createdAt);
    const mine = (rowsByDeal.get(dealId) ?? []).sort((a, b) => a.enteredAt - b.enteredAt);
    const restored = portal.changes.some(
      (c) => c.kind === 'restore' && c.objectType === 'deals' && c.objectId === dealId,
    );
    let cursor = 0;
    for (const r of mine) {
      const at = truth.findIndex((v, i) => i >= cursor && v.stage === r.stage && v.enteredAt === r.enteredAt);
      // A deletion ends the visit as cancelled; restored, the deal goes on in it and the row stays until it ends.
      const resumed = restored && r.slaOutcome === 'cancelled' && at === truth.length - 1;
      if (at < 0 || (at === truth.length - 1 && !resumed))
        bad('history', `row ${r.stage}@${r.enteredAt} is not a finished HubSpot visit`);
      else cursor = at + 1;
      const rule = rules.get(r.stage);
      const wrong = rule ? checkHistoryRow(rule, r) : null;
      if (wrong) bad('breach', `${r.stage} row: ${wrong}`);
    }

    // One SLA task per stage entry, only the current entry's tasks open.
    const openSla = open.filter((t) => t.key.endsWith(':sla'));
    if (openSla.length !== 1 || openSla[0]!.key !== `${entryId}:sla`)
      bad('slaTask', `open SLA tasks [${openSla.map((t) => t.key).join(', ')}], expected ${entryId}:sla`);
    // A remediation task (`<entry>:remediation:<blocked stage>:<t>`) stays open while the deal is in the
    // remediation stage the blocked stage's gate sends it to; anything else open must be the current entry's.
    const remediationOpen = (key: string) => {
      const blocked = /:remediation:([^:]+):/.exec(key)?.[1];
      return blocked !== undefined && remediationStages.get(blocked) === stage;
    };
    for (const t of open)
      if (!t.key.startsWith(`${entryId}:`) && !remediationOpen(t.key)) bad('staleOpenTask', t.key);
    const slaTask = openSla.find((t) => t.key === `${entryId}:sla`);
    // Tasks stay with whoever they were given to; an owner change in the stage gives the new owner a handoff task
    // instead (engine/owner.ts). So: the SLA task is the deal owner's, or the entry has a handoff task.
    const handedOff = tasks.some((t) => t.key.startsWith(`${entryId}:handoff:`));
    if (slaTask && slaTask.owner !== value('hubspot_owner_id') && !handedOff)
      bad(
        'owner',
        `SLA task owner ${slaTask.owner ?? '∅'}, deal owner ${value('hubspot_owner_id') ?? '∅'}, no handoff task`,
      );

    const gate = checkGateProperties(value(P.gateStatus), value(P.gateMissing));
    if (gate) bad('gate', gate);

    // Timers: none for another entry, one job per timer.
    for (const t of pending)
      if (t.firing.entryId !== entryId)
        bad('timers', `timer ${t.firing.timerId} for entry ${t.firing.entryId}`);
    if (pending.length !== new Set(pending.map((t) => t.firing.timerId)).size)
      bad('timers', 'duplicate pending timer(s)');

    // The SLA rules, from the playbook.
    const rule = rules.get(stage);
    if (rule)
      for (const d of checkCurrentVisit(rule, enteredAt, now, {
        slaTaskDue: slaTask?.dueAt ?? null,
        dueProp: instant(value(P.slaDueAt)),
        warningProp: instant(value(P.slaWarningAt)),
        status: value(P.slaStatus),
        breachedAt: instant(value(P.slaBreachedAt)),
        escalated: tasks.some((t) => t.key.startsWith(`${entryId}:level:`)),
      }))
        bad(d.kind, d.detail);

    const stored = states[index]!.state;
    if (stored?.current?.entryId !== entryId)
      bad('state', `stored entry ${stored?.current?.entryId ?? '∅'}, HubSpot ${entryId}`);
  });
  return out;
}

export function countByKind(list: Discrepancy[]): Record<DiscrepancyKind, number> {
  const counts = Object.fromEntries(DISCREPANCY_KINDS.map((k) => [k, 0])) as Record<DiscrepancyKind, number>;
  for (const d of list) counts[d.kind]++;
  return counts;
}
