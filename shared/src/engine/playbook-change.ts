import type { Playbook } from '../playbook/schema';
import { P } from '../properties';
import { Effects, iso, msProp } from './effects';
import { findStage } from './lookup';
import { moveSlaTask, pauseHolds, runningStatus } from './pause';
import {
  cancelAllTimers,
  chooseTarget,
  clockContext,
  pauseClock,
  retarget,
  startClock,
  syncTimers,
} from './sla-clock';
import { ownerFor, slaTask, slaTaskKey } from './tasks';
import { taskZone } from './task-time';
import type { DealSnapshot, DealState } from './types';

/**
 * Brings the running visit under a new playbook version (ServiceNow's "SLA repair"): the target, due time and
 * timers are recomputed from the same entry instant and the basis time already consumed, and the change is
 * recorded as a decision. Met and breached clocks are history and stay as they were.
 */
export function applyPlaybookChange(
  fx: Effects,
  state: DealState,
  playbook: Playbook,
  snapshot: DealSnapshot,
  now: number,
): void {
  if (state.playbookVersion === playbook.version) return;
  const from = state.playbookVersion;
  state.playbookVersion = playbook.version;
  const entry = state.current;
  const ref = entry && findStage(playbook, entry.stage);
  if (!entry || !ref) {
    fx.decide('playbook.version', `playbook v${from} -> v${playbook.version}: no running visit to recompute`);
    return;
  }
  if (entry.ownerRole !== ref.stage.ownerRole) {
    entry.ownerRole = ref.stage.ownerRole;
    fx.set({ [P.stageOwnerRole]: ref.stage.ownerRole });
  }
  const ctx = clockContext(playbook, ref.stage);
  const clock = entry.sla;
  const live = clock && (clock.status === 'running' || clock.status === 'paused');

  if (!ctx) {
    if (live) {
      fx.push(...cancelAllTimers(clock));
      clock.status = 'cancelled';
      fx.set({ [P.slaStatus]: '', [P.slaDueAt]: '', [P.slaWarningAt]: '' });
      if (snapshot.tasks[slaTaskKey(entry.entryId)] !== 'COMPLETED')
        fx.push({
          type: 'cancelTask',
          key: slaTaskKey(entry.entryId),
          reason: `playbook v${playbook.version} removed this stage's SLA`,
        });
    }
    fx.decide(
      'playbook.recompute',
      `v${from} -> v${playbook.version}: stage "${entry.stage}" has no SLA any more`,
    );
    return;
  }

  if (!clock) {
    // The stage gained an SLA: it applies from the visit's entry, as if the rule had always been there.
    const started = startClock(ctx, snapshot, entry.enteredAt, now);
    entry.sla = started;
    if (pauseHolds(ctx, snapshot, entry, now)) pauseClock(started, ctx, Math.max(now, entry.enteredAt));
    const zone = taskZone(playbook, started.calendar);
    fx.push(
      slaTask(
        entry,
        ref.stage,
        started,
        ownerFor(fx, playbook, ref.stage, snapshot.ownerId, 'SLA task'),
        zone,
      ),
    );
    entry.tasks.push({ key: slaTaskKey(entry.entryId), kind: 'sla' });
    fx.push(...syncTimers(entry.entryId, started, ctx));
    fx.set({
      [P.slaStatus]: started.status === 'paused' ? 'paused' : runningStatus(started),
      [P.slaDueAt]: msProp(started.dueAt),
      [P.slaWarningAt]: msProp(started.warningAt),
    });
    fx.decide(
      'playbook.recompute',
      `v${from} -> v${playbook.version}: stage "${entry.stage}" gained an SLA, due ${iso(started.dueAt)}`,
    );
    return;
  }

  if (!live) {
    fx.decide(
      'playbook.recompute',
      `v${from} -> v${playbook.version}: the ${clock.status} clock of "${entry.stage}" is kept as it was`,
    );
    fx.push(...syncTimers(entry.entryId, clock, ctx));
    return;
  }

  const before = { targetMs: clock.targetMs, rule: clock.targetRule, dueAt: clock.dueAt };
  retarget(clock, ctx, chooseTarget(ctx.sla, snapshot, now), entry.enteredAt);
  fx.push(...syncTimers(entry.entryId, clock, ctx));
  if (clock.dueAt !== before.dueAt) fx.push(...moveSlaTask(entry, clock));
  fx.set({ [P.slaDueAt]: msProp(clock.dueAt), [P.slaWarningAt]: msProp(clock.warningAt) });
  fx.decide(
    'playbook.recompute',
    `v${from} -> v${playbook.version}: "${entry.stage}" target ${before.targetMs} ms (${before.rule}) -> ` +
      `${clock.targetMs} ms (${clock.targetRule}); due ${iso(before.dueAt)} -> ${iso(clock.dueAt)}`,
  );
}
