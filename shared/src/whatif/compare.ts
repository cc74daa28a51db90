import type { DealState, HistoryRow } from '../engine/types';
import type { Playbook } from '../playbook/schema';
import { medianAndP90 } from '../scorecard/stats';
import { planOf } from './plan';
import { repairPreview } from './repair';
import { blankReplay, replayVisit, type VisitReplay } from './replay-visit';
import { MAX_LISTED, type WhatIfFlip, type WhatIfMetrics, type WhatIfReport, type WhatIfSide } from './types';

export const WEEK_MS = 7 * 24 * 3600_000;

export type WhatIfInput = {
  /** Recorded stage visits; those whose exit falls outside the window, and event clock runs, are skipped. */
  rows: readonly HistoryRow[];
  /** The playbook in force and the draft. */
  current: Playbook;
  draft: Playbook;
  now: number;
  /** Window: the `weeks` weeks up to and including `now`. */
  weeks: number;
  /** Deals' stored state, for the repair preview of the visits running now. */
  running?: readonly DealState[];
};

/** Counters of one side for many groups, in flat arrays (no object per group and visit). */
class SideCounters {
  sla: number[] = [];
  breached: number[] = [];
  warnings: number[] = [];
  levels: number[] = [];
  tasks: number[] = [];
  unknown: number[] = [];

  add(): void {
    for (const a of [this.sla, this.breached, this.warnings, this.levels, this.tasks, this.unknown])
      a.push(0);
  }

  count(g: number, r: VisitReplay): void {
    if (r.outcome === 'unknown') {
      this.unknown[g]!++;
      return;
    }
    if (r.outcome === 'breached') {
      this.sla[g]!++;
      this.breached[g]!++;
    } else if (r.outcome === 'met') this.sla[g]!++;
    if (r.warned) this.warnings[g]!++;
    this.levels[g]! += r.levels;
    this.tasks[g]! += r.tasks;
  }

  side(g: number, weeks: number): WhatIfSide {
    const sla = this.sla[g]!;
    const perWeek = (n: number) => Math.round((n / weeks) * 100) / 100;
    return {
      slaVisits: sla,
      breached: this.breached[g]!,
      breachRate: sla === 0 ? null : this.breached[g]! / sla,
      warningsPerWeek: perWeek(this.warnings[g]!),
      escalationsPerWeek: perWeek(this.levels[g]!),
      tasksPerWeek: perWeek(this.tasks[g]!),
      unknown: this.unknown[g]!,
    };
  }
}

class Groups {
  readonly index = new Map<string, number>();
  readonly visits: number[] = [];
  readonly flips: number[] = [];
  readonly shifts: number[][] = [];
  readonly current = new SideCounters();
  readonly draft = new SideCounters();

  group(key: string): number {
    let g = this.index.get(key);
    if (g === undefined) {
      g = this.visits.length;
      this.index.set(key, g);
      this.visits.push(0);
      this.flips.push(0);
      this.shifts.push([]);
      this.current.add();
      this.draft.add();
    }
    return g;
  }

  count(g: number, c: VisitReplay, d: VisitReplay, flipped: boolean): void {
    this.visits[g]!++;
    this.current.count(g, c);
    this.draft.count(g, d);
    if (flipped) this.flips[g]!++;
    if (c.dueAt !== null && d.dueAt !== null) this.shifts[g]!.push(d.dueAt - c.dueAt);
  }

  metrics(g: number, weeks: number): WhatIfMetrics {
    return {
      visits: this.visits[g]!,
      current: this.current.side(g, weeks),
      draft: this.draft.side(g, weeks),
      medianDueShiftMs: medianAndP90(Float64Array.from(this.shifts[g]!)).median,
      flips: this.flips[g]!,
    };
  }
}

const isFlip = (c: VisitReplay, d: VisitReplay) =>
  c.outcome !== 'unknown' &&
  d.outcome !== 'unknown' &&
  c.outcome !== d.outcome &&
  (c.outcome === 'breached' || d.outcome === 'breached');

/**
 * What the draft would have done to the last `weeks` weeks of visits, next to what the playbook in force does
 * with the same visits (both replayed the same way, so the only difference is the contract), per stage and per
 * role, plus the repair preview of the visits running now.
 */
export function whatIf(input: WhatIfInput): WhatIfReport {
  const { rows, current, draft, now, weeks } = input;
  if (!Number.isInteger(weeks) || weeks < 1 || weeks > 52)
    throw new RangeError(`weeks must be an integer from 1 to 52, got ${weeks}`);
  const from = now - weeks * WEEK_MS;
  const cur = planOf(current);
  const dra = planOf(draft);
  const stages = new Groups();
  const roles = new Groups();
  const totals = new Groups();
  totals.group('');
  const flipped: WhatIfFlip[] = [];
  let flipsTotal = 0;

  const c = blankReplay();
  const d = blankReplay();
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    if (!(row.exitedAt >= from && row.exitedAt <= now)) continue;
    // Event clock runs (`clocks:`) share the history but are no stage visit: the draft's stage contracts say
    // nothing about them, so they stay out rather than appear as a stage with no SLA.
    if (row.clock !== undefined) continue;
    replayVisit(row, cur, c);
    replayVisit(row, dra, d);
    const flip = isFlip(c, d);
    stages.count(stages.group(row.stage), c, d, flip);
    roles.count(roles.group(row.ownerRole), c, d, flip);
    totals.count(0, c, d, flip);
    if (flip) {
      flipsTotal++;
      flipped.push({
        dealId: row.dealId,
        stage: row.stage,
        enteredAt: row.enteredAt,
        from: c.outcome,
        to: d.outcome,
      });
    }
  }
  flipped.sort((a, b) => b.enteredAt - a.enteredAt);

  const stageLabel = (id: string) => (dra.stages.get(id) ?? cur.stages.get(id))?.stage.label ?? id;
  const pipelineOf = (id: string) =>
    [draft, current].flatMap((p) => p.pipelines).find((pl) => pl.stages.some((s) => s.id === id)) ?? null;
  const roleName = (id: string) => [...draft.roles, ...current.roles].find((r) => r.id === id)?.name ?? id;
  // Draft order first (what the admin is editing), then stages only the playbook in force or the rows know.
  const order = [...draft.pipelines, ...current.pipelines].flatMap((pl) => pl.stages.map((s) => s.id));
  const rank = (id: string) => {
    const i = order.indexOf(id);
    return i < 0 ? order.length : i;
  };
  const byStage = [...stages.index]
    .sort(([a], [b]) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0))
    .map(([id, g]) => {
      const pl = pipelineOf(id);
      return {
        pipeline: { id: pl?.id ?? '', label: pl?.label ?? '' },
        stage: { id, label: stageLabel(id) },
        ...stages.metrics(g, weeks),
      };
    });
  const roleOrder = [...draft.roles, ...current.roles].map((r) => r.id);
  const byRole = [...roles.index]
    .sort(([a], [b]) => (roleOrder.indexOf(a) >>> 0) - (roleOrder.indexOf(b) >>> 0))
    .map(([id, g]) => ({ role: { id, name: roleName(id) }, ...roles.metrics(g, weeks) }));

  return {
    weeks,
    from: new Date(from).toISOString(),
    to: new Date(now).toISOString(),
    currentVersion: current.version,
    draftVersion: draft.version,
    byStage,
    byRole,
    totals: totals.metrics(0, weeks),
    flipped: flipped.slice(0, MAX_LISTED),
    flipsTotal,
    repair: repairPreview(input.running ?? [], current, draft),
  };
}
