import type { EscalationAction, Playbook } from '../playbook/schema';
import { P } from '../properties';
import { applyBreach } from './breach';
import { Effects, iso } from './effects';
import { taskTime, taskZone } from './task-time';
import { findStage } from './lookup';
import { recordOwnerChange } from './owner';
import { pageFor } from './pages';
import { reconcile } from './reconcile';
import { breachRun, findEventClock } from './event-clocks';
import { clockContext, forgetTimer, syncTimers, type ClockContext } from './sla-clock';
import { leadOfRole, ownerForRole, workOwner } from './tasks';
import type {
  DealSnapshot,
  DealState,
  EngineResult,
  PageCommand,
  RoutingInput,
  SlaClock,
  TimerFiring,
} from './types';

export type TimerInput = {
  playbook: Playbook;
  state: DealState | null;
  snapshot: DealSnapshot;
  timer: TimerFiring;
  now: number;
  routing?: RoutingInput;
};

/** A job that fires this much before its scheduled instant is a leftover of an earlier schedule. */
const EARLY_TOLERANCE_MS = 1_000;

/**
 * What a fired timer acts on: a stage visit's clock or an event clock's run. The warning, breach and escalation
 * rules are the same; only the labels, the accountable role and what a breach writes back differ.
 */
type ClockHost = {
  id: string;
  label: string;
  role: string;
  tasks: { key: string; kind: string }[];
  clock: SlaClock;
  ctx: ClockContext;
  /** Who gets the owner's notices: the member routing gave the work to, else the deal owner. */
  worker: string | null;
  breach: () => void;
  /** Stage clocks write their status and level back; event clocks write their own summary. */
  writeBack: boolean;
  /**
   * The page a fired level sends to the role's lead. Stage clocks only: a page names the stage, and leaving the
   * stage resolves it (pageResolutions); an event clock run has neither, so its levels page no one.
   */
  page: (level: number) => PageCommand | undefined;
};

function escalate(
  fx: Effects,
  state: DealState,
  playbook: Playbook,
  host: ClockHost,
  snapshot: DealSnapshot,
  level: number,
  at: number,
  action: EscalationAction,
  now: number,
): void {
  const head = `${host.label}: SLA at ${at}%, escalation level ${level + 1}`;
  const task = (suffix: string, ownerId: string | null, subject: string) => {
    const key = `${host.id}:level:${level}:${suffix}`;
    host.tasks.push({ key, kind: 'escalation' });
    fx.push({
      type: 'createTask',
      key,
      kind: 'escalation',
      subject: subject.slice(0, 255),
      body: `Deal ${state.dealId} is at ${at}% of its ${host.label} SLA (due ${taskTime(host.clock.dueAt, taskZone(playbook, host.clock.calendar))}).`,
      dueAt: now,
      ownerId,
      priority: 'HIGH',
      taskType: 'TODO',
    });
  };
  switch (action.type) {
    case 'notifyOwner':
      task('notifyOwner', ownerForRole(fx, playbook, host.role, host.worker, 'escalation notice'), head);
      return;
    case 'taskForLead':
      task('lead', leadOfRole(playbook, host.role), action.subject ?? head);
      return;
    case 'reassignToLead': {
      const lead = leadOfRole(playbook, host.role);
      if (!lead || snapshot.ownerId === lead) {
        fx.decide('escalation.reassign_skipped', 'the role lead already owns the deal');
        return;
      }
      fx.push({
        type: 'assignOwner',
        ownerId: lead,
        reason: `${head}: reassigned to the lead of role "${host.role}"`,
      });
      const from = state.lastOwnerId;
      recordOwnerChange(
        fx,
        state,
        playbook,
        snapshot,
        lead,
        now,
        `escalation level ${level + 1} reassigned the deal`,
      );
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
export function onTimer({ playbook, state, snapshot, timer, now, routing }: TimerInput): EngineResult {
  const caughtUp = reconcile({ playbook, state, snapshot, now, routing });
  const fx = new Effects();
  fx.absorb(caughtUp);
  const s = caughtUp.state ? structuredClone(caughtUp.state) : null;
  const host = s ? hostOf(fx, s, playbook, snapshot, timer, now) : undefined;
  if (!s || !host) {
    fx.decide('timer.stale', `timer ${timer.timerId} belongs to a visit that is no longer current`);
    return fx.result(s);
  }
  const { clock, ctx } = host;
  const scheduled = (clock.timers ?? []).find((t) => t.timerId === timer.timerId);
  if (!scheduled || (clock.status !== 'running' && clock.status !== 'breached')) {
    fx.decide(
      'timer.inactive',
      `timer ${timer.timerId} is not scheduled (already fired, or the clock is ${clock.status})`,
    );
    return fx.result(s);
  }
  if (now + EARLY_TOLERANCE_MS < scheduled.fireAt) {
    fx.push({
      type: 'scheduleTimer',
      timerId: timer.timerId,
      kind: timer.kind,
      ...(timer.level !== undefined ? { level: timer.level } : {}),
      entryId: host.id,
      fireAt: scheduled.fireAt,
    });
    fx.decide(
      'timer.early',
      `timer ${timer.timerId} fired before its time ${iso(scheduled.fireAt)}; scheduled again`,
    );
    return fx.result(s);
  }
  forgetTimer(clock, timer.timerId);

  if (timer.kind === 'warning') {
    clock.warned = true;
    if (clock.status !== 'running' || now >= clock.dueAt) {
      fx.decide(
        'warning.skipped',
        'the clock is already at or past its due time; the breach decides instead',
      );
    } else {
      const key = `${host.id}:warning`;
      host.tasks.push({ key, kind: 'warning' });
      fx.push({
        type: 'createTask',
        key,
        kind: 'warning',
        subject: `${host.label}: SLA due ${taskTime(clock.dueAt, taskZone(playbook, clock.calendar))}`.slice(
          0,
          255,
        ),
        body: `${ctx.sla.warningAt}% of the ${host.label} SLA is used. It breaches at ${taskTime(clock.dueAt, taskZone(playbook, clock.calendar))}.`,
        dueAt: clock.dueAt,
        ownerId: ownerForRole(fx, playbook, host.role, host.worker, 'SLA warning'),
        priority: 'HIGH',
        taskType: 'TODO',
      });
      if (host.writeBack) fx.set({ [P.slaStatus]: 'warning' });
      fx.decide('warning', `${ctx.sla.warningAt}% of the SLA used; owner warned`);
    }
  } else if (timer.kind === 'breach') {
    if (clock.status === 'running') host.breach();
  } else {
    const level = timer.level ?? Number(timer.timerId.split(':').pop());
    const def = ctx.sla.escalations[level];
    if (!def || clock.levelsFired.includes(level)) {
      fx.decide('escalation.unknown', `escalation level ${level} is not in the playbook or already fired`);
    } else {
      // A level at or past 100 % may fire before the breach job does; the breach is a fact by then.
      if (def.at >= 100 && clock.status === 'running' && now >= clock.dueAt) host.breach();
      clock.levelsFired.push(level);
      for (const action of def.actions) escalate(fx, s, playbook, host, snapshot, level, def.at, action, now);
      // The page goes out besides the level's HubSpot tasks, never instead of them: a failing channel loses nothing.
      const page = host.page(level);
      if (page) {
        fx.push(page);
        clock.paged = [...(clock.paged ?? []), level];
      }
      if (host.writeBack) fx.set({ [P.escalationLevel]: String(Math.max(...clock.levelsFired) + 1) });
      fx.decide(
        'escalation',
        `level ${level + 1} (${def.at}%): ${def.actions.map((a) => a.type).join(', ')}`,
      );
    }
  }
  fx.push(...syncTimers(host.id, clock, ctx));
  return fx.result(s);
}

/** The clock a timer belongs to: the current visit's, or a live event clock run's; undefined when stale. */
function hostOf(
  fx: Effects,
  s: DealState,
  playbook: Playbook,
  snapshot: DealSnapshot,
  timer: TimerFiring,
  now: number,
): ClockHost | undefined {
  const entry = s.current;
  const found = findEventClock(playbook, s, timer.entryId);
  if (found) {
    const { run, def, ctx } = found;
    return {
      id: run.runId,
      label: def.label,
      role: run.role,
      tasks: run.tasks,
      clock: run.sla,
      ctx,
      worker: workOwner(entry, snapshot.ownerId),
      breach: () => breachRun(fx, s, def, run, snapshot, now),
      writeBack: false,
      page: () => undefined,
    };
  }
  const ref = entry && findStage(playbook, entry.stage);
  const clock = entry?.sla;
  const ctx = ref && clockContext(playbook, ref.stage);
  if (!entry || !ref || !clock || !ctx || timer.entryId !== entry.entryId) return undefined;
  return {
    id: entry.entryId,
    label: ref.stage.label,
    role: ref.stage.ownerRole,
    tasks: entry.tasks,
    clock,
    ctx,
    worker: workOwner(entry, snapshot.ownerId),
    breach: () => applyBreach(fx, s, playbook, ref.stage, snapshot, clock.dueAt, now),
    writeBack: true,
    page: (level) => pageFor(playbook, ref.stage, entry, ctx, level, now),
  };
}
