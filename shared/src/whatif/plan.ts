import { calendarOf } from '../engine/calendars';
import { findRole } from '../engine/lookup';
import { clockContext, targetFor, type ChosenTarget, type ClockContext } from '../engine/sla-clock';
import { criteriaKey } from '../engine/visit-inputs';
import type { Playbook, Role, Stage } from '../playbook/schema';

/** Everything a replay needs of one stage, prepared once per playbook so the per-visit loop only computes. */
export type StagePlan = {
  stage: Stage;
  /** The stage's owner role in this playbook (its owners, capacity threshold). */
  role: Role | undefined;
  ctx: ClockContext | undefined;
  /** targets[i + 1] is override i's target, targets[0] the default. */
  targets: ChosenTarget[];
  pauseKey: string;
  /** Tasks created at entry: the SLA task and the required actions. */
  entryTasks: number;
  /** Tasks each escalation level creates (notifyOwner, taskForLead, the handoff of reassignToLead). */
  levelTasks: number[];
};

export type PlaybookPlan = { playbook: Playbook; stages: Map<string, StagePlan> };

const cache = new WeakMap<Playbook, PlaybookPlan>();

/** Calendars compile once here (calendarOf keeps them per playbook object), not per visit. */
export function planOf(playbook: Playbook): PlaybookPlan {
  const hit = cache.get(playbook);
  if (hit) return hit;
  const stages = new Map<string, StagePlan>();
  for (const pl of playbook.pipelines)
    for (const stage of pl.stages) {
      const ctx = stage.closed ? undefined : clockContext(playbook, stage);
      const sla = ctx?.sla;
      if (sla?.calendar) calendarOf(playbook, sla.calendar);
      stages.set(stage.id, {
        stage,
        role: findRole(playbook, stage.ownerRole),
        ctx,
        targets: sla ? [-1, ...sla.overrides.map((_, i) => i)].map((i) => targetFor(sla, i)) : [],
        pauseKey: criteriaKey(sla?.pauseWhen ?? []),
        entryTasks: stage.closed ? 0 : (ctx ? 1 : 0) + stage.requiredActions.length,
        // reassignToLead gives the lead a handoff task (recordOwnerChange); skipped only when the lead already owns it.
        levelTasks: (sla?.escalations ?? []).map(
          (l) => l.actions.filter((a) => a.type !== 'setProperty').length,
        ),
      });
    }
  const plan = { playbook, stages };
  cache.set(playbook, plan);
  return plan;
}
