import { retarget, startClockWith } from '../engine/sla-clock';
import type { DealState } from '../engine/types';
import type { Playbook } from '../playbook/schema';
import { medianAndP90 } from '../scorecard/stats';
import { planOf } from './plan';
import { overrideIndex } from './recorded';
import { MAX_LISTED, type RepairPreview, type RepairStageRow } from './types';

type Acc = {
  deals: number;
  moved: number;
  unknown: number;
  removed: number;
  added: number;
  shifts: number[];
};

/**
 * How far the due times of the visits running now would move when the draft is published: the engine's own
 * repair (`retarget`, what applyPlaybookChange does on the next run of each deal) applied to a copy of each
 * running clock, with the target chosen from the values recorded at the visit's entry. Met and breached clocks
 * are history and do not move, as in the engine.
 */
export function repairPreview(
  states: readonly DealState[],
  current: Playbook,
  draft: Playbook,
): RepairPreview {
  const plan = planOf(draft);
  const accs = new Map<string, Acc>();
  const moves: RepairPreview['moves'] = [];
  let deals = 0;
  for (const state of states) {
    const entry = state.current;
    if (!entry || state.closedReason) continue;
    const clock = entry.sla;
    if (clock && clock.status !== 'running' && clock.status !== 'paused') continue;
    const sp = plan.stages.get(entry.stage);
    const ctx = sp?.ctx;
    if (!clock && !ctx) continue;
    let acc = accs.get(entry.stage);
    if (!acc)
      accs.set(entry.stage, (acc = { deals: 0, moved: 0, unknown: 0, removed: 0, added: 0, shifts: [] }));
    acc.deals++;
    deals++;
    if (!ctx) {
      acc.removed++;
      moves.push({ dealId: state.dealId, stage: entry.stage, fromDueAt: clock!.dueAt, toDueAt: null });
      continue;
    }
    const idx = ctx.sla.overrides.length === 0 ? -1 : overrideIndex(ctx.sla.overrides, entry.inputs);
    if (idx === undefined) {
      acc.unknown++;
      continue;
    }
    const target = sp.targets[idx + 1]!;
    if (!clock) {
      acc.added++;
      moves.push({
        dealId: state.dealId,
        stage: entry.stage,
        fromDueAt: null,
        toDueAt: startClockWith(ctx, target, entry.enteredAt).dueAt,
      });
      continue;
    }
    const next = { ...clock, levelsFired: [...clock.levelsFired] };
    retarget(next, ctx, target, entry.enteredAt);
    const shift = next.dueAt - clock.dueAt;
    acc.shifts.push(shift);
    if (shift !== 0) {
      acc.moved++;
      moves.push({ dealId: state.dealId, stage: entry.stage, fromDueAt: clock.dueAt, toDueAt: next.dueAt });
    }
  }
  const size = (m: RepairPreview['moves'][number]) =>
    m.fromDueAt === null || m.toDueAt === null ? Number.POSITIVE_INFINITY : Math.abs(m.toDueAt - m.fromDueAt);
  moves.sort((a, b) => size(b) - size(a) || (a.dealId < b.dealId ? -1 : 1));
  const label = (id: string) => (plan.stages.get(id) ?? planOf(current).stages.get(id))?.stage.label ?? id;
  const byStage: RepairStageRow[] = [...accs].map(([id, a]) => {
    const values = Float64Array.from(a.shifts);
    // medianAndP90 reorders its input; min and max do not care.
    return {
      stage: { id, label: label(id) },
      deals: a.deals,
      moved: a.moved,
      unknown: a.unknown,
      removed: a.removed,
      added: a.added,
      medianShiftMs: medianAndP90(values).median,
      minShiftMs: values.length ? values.reduce((a, b) => Math.min(a, b)) : null,
      maxShiftMs: values.length ? values.reduce((a, b) => Math.max(a, b)) : null,
    };
  });
  return { deals, byStage, moves: moves.slice(0, MAX_LISTED) };
}
