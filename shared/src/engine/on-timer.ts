import type { EscalationAction, Playbook, Stage } from '../playbook/schema';
import { P } from '../properties';
import { applyBreach } from './breach';
import { Effects, iso } from './effects';
import { taskTime, taskZone } from './task-time';
import { findStage } from './lookup';
import { recordOwnerChange } from './owner';
import { pageFor } from './pages';
import { reconcile } from './reconcile';
import { clockContext, forgetTimer, syncTimers } from './sla-clock';
import { leadOf, ownerFor } from './tasks';
import type { DealSnapshot, DealState, EngineResult, StageEntry, TimerFiring } from './types';

export type TimerInput = {
  playbook: Playbook;
  state: DealState | null;
  snapshot: DealSnapshot;
  timer: TimerFiring;
  now: number;
};

/** A job that fires this much before its scheduled instant is a leftover of an earlier schedule. */
const EARLY_TOLERANCE_MS = 1_000;

function escalate(
  fx: Effects,
  state: DealState,
  playbook: Playbook,
  stage: Stage,
  entry: StageEntry,
  snapshot: DealSnapshot,
  level: number,
  at: number,
  action: EscalationAction,
  now: number,
): void {
  const head = `${stage.label}: SLA at ${at}%, escalation level ${level + 1}`;
  const task = (suffix: string, ownerId: string | null, subject: string) => {
    const key = `${entry.entryId}:level:${level}:${suffix}`;
    entry.tasks.push({ key, kind: 'escalation' });
    fx.push({
      type: 'createTask',
      key,
      kind: 'escalation',
      subject: subject.slice(0, 255),
      body: `Deal ${state.dealId} is at ${at}% of its ${stage.label} SLA (due ${taskTime(entry.sla!.dueAt, taskZone(playbook, entry.sla!.calendar))}).`,
      dueAt: now,
      ownerId,
      priority: 'HIGH',
      taskType: 'TODO',
    });
  };
  switch (action.type) {
    case 'notifyOwner':
      task('notifyOwner', ownerFor(fx, playbook, stage, snapshot.ownerId, 'escalation notice'), head);
      return;
    case 'taskForLead':
      task('lead', leadOf(playbook, stage), action.subject ?? head);
      return;
    case 'reassignToLead': {
      const lead = leadOf(playbook, stage);
      if (!lead || snapshot.ownerId === lead) {
        fx.decide('escalation.reassign_skipped', 'the role lead already owns the deal');
        return;
      }
      fx.push({ type: 'assignOwner', ownerId: lead, reason: `${head}: reassigned to the lead of role "${stage.ownerRole}"` });
      const from = state.lastOwnerId;
      recordOwnerChange(fx, state, playbook, snapshot, lead, now, `escalation level ${level + 1} reassigned the deal`);
      state.pendingOwner = { from, to: lead };
      return;
    }
    case 'setProperty':
      fx.set({ [action.property]: action.value });
      return;
  }
}

/**
 * A warning, breach or escalation timer fired. The deal is first reconciled against HubSpot's current view (it
 * may have moved or paused since the timer was scheduled); the timer then acts only if it is still scheduled
 * for the current visit, so a stale or repeated firing does nothing.
 */
export function onTimer({ playbook, state, snapshot, timer, now }: TimerInput): EngineResult {
  const caughtUp = reconcile({ playbook, state, snapshot, now });
  const fx = new Effects();
  fx.absorb(caughtUp);
  const s = caughtUp.state ? structuredClone(caughtUp.state) : null;
  const entry = s?.current;
  const ref = entry && findStage(playbook, entry.stage);
  const clock = entry?.sla;
  const ctx = ref && clockContext(playbook, ref.stage);
  if (!s || !entry || !ref || !clock || !ctx || timer.entryId !== entry.entryId) {
    fx.decide('timer.stale', `timer ${timer.timerId} belongs to a visit that is no longer current`);
    return fx.result(s);
  }
  const scheduled = (clock.timers ?? []).find((t) => t.timerId === timer.timerId);
  if (!scheduled || (clock.status !== 'running' && clock.status !== 'breached')) {
    fx.decide('timer.inactive', `timer ${timer.timerId} is not scheduled (already fired, or the clock is ${clock.status})`);
    return fx.result(s);
  }
  if (now + EARLY_TOLERANCE_MS < scheduled.fireAt) {
    fx.push({ type: 'scheduleTimer', timerId: timer.timerId, kind: timer.kind, ...(timer.level !== undefined ? { level: timer.level } : {}), entryId: entry.entryId, fireAt: scheduled.fireAt });
    fx.decide('timer.early', `timer ${timer.timerId} fired before its time ${iso(scheduled.fireAt)}; scheduled again`);
    return fx.result(s);
  }
  forgetTimer(clock, timer.timerId);

  if (timer.kind === 'warning') {
    clock.warned = true;
    if (clock.status !== 'running' || now >= clock.dueAt) {
      fx.decide('warning.skipped', 'the clock is already at or past its due time; the breach decides instead');
    } else {
      const key = `${entry.entryId}:warning`;
      entry.tasks.push({ key, kind: 'warning' });
      fx.push({
        type: 'createTask',
        key,
        kind: 'warning',
        subject: `${ref.stage.label}: SLA due ${taskTime(clock.dueAt, taskZone(playbook, clock.calendar))}`.slice(0, 255),
        body: `${ctx.sla.warningAt}% of the ${ref.stage.label} SLA is used. It breaches at ${taskTime(clock.dueAt, taskZone(playbook, clock.calendar))}.`,
        dueAt: clock.dueAt,
        ownerId: ownerFor(fx, playbook, ref.stage, snapshot.ownerId, 'SLA warning'),
        priority: 'HIGH',
        taskType: 'TODO',
      });
      fx.set({ [P.slaStatus]: 'warning' });
      fx.decide('warning', `${ctx.sla.warningAt}% of the SLA used; owner warned`);
    }
  } else if (timer.kind === 'breach') {
    if (clock.status === 'running') applyBreach(fx, s, playbook, ref.stage, snapshot, clock.dueAt, now);
  } else {
    const level = timer.level ?? Number(timer.timerId.split(':').pop());
    const def = ctx.sla.escalations[level];
    if (!def || clock.levelsFired.includes(level)) {
      fx.decide('escalation.unknown', `escalation level ${level} is not in the playbook or already fired`);
    } else {
      // A level at or past 100 % may fire before the breach job does; the breach is a fact by then.
      if (def.at >= 100 && clock.status === 'running' && now >= clock.dueAt)
        applyBreach(fx, s, playbook, ref.stage, snapshot, clock.dueAt, now);
      clock.levelsFired.push(level);
      for (const action of def.actions) escalate(fx, s, playbook, ref.stage, entry, snapshot, level, def.at, action, now);
      // The page goes out besides the level's HubSpot tasks, never instead of them: a failing channel loses nothing.
      const page = pageFor(playbook, ref.stage, entry, ctx, level, now);
      if (page) {
        fx.push(page);
        clock.paged = [...(clock.paged ?? []), level];
      }
      fx.set({ [P.escalationLevel]: String(Math.max(...clock.levelsFired) + 1) });
      fx.decide('escalation', `level ${level + 1} (${def.at}%): ${def.actions.map((a) => a.type).join(', ')}`);
    }
  }
  fx.push(...syncTimers(entry.entryId, clock, ctx));
  return fx.result(s);
}
