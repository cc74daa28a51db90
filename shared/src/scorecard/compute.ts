import { BREACH_REASONS, type Playbook } from '../playbook/schema';
import type { HistoryRow } from '../engine/types';
import { medianAndP90 } from './stats';
import type { Scorecard, ScorecardMetrics } from './types';
import { reportingZone, weekRange } from './week';

export type ScorecardInput = {
  /** Stage visits; rows whose exit falls outside the week are ignored, so a caller may pass a superset. */
  rows: readonly HistoryRow[];
  playbook: Playbook;
  /** "YYYY-Www". */
  week: string;
  /** IANA zone the week is cut in; the playbook's first calendar zone by default. */
  zone?: string;
  /** Weeks with data, newest first (§4.7); the caller knows its storage, this module does not. */
  availableWeeks?: string[];
};

type Reason = (typeof BREACH_REASONS)[number];
const REASON_INDEX = new Map<string, number>(BREACH_REASONS.map((r, i) => [r, i]));
const NR = BREACH_REASONS.length;

/**
 * Counters per group in flat number arrays rather than objects per group: the hot loop then touches a handful of
 * dense arrays, which keeps one million rows in the tens of milliseconds.
 */
class Counters {
  volume: number[] = [];
  sla: number[] = [];
  breached: number[] = [];
  forward: number[] = [];
  backward: number[] = [];
  reasons: number[] = [];

  add(): number {
    const g = this.volume.length;
    this.volume.push(0);
    this.sla.push(0);
    this.breached.push(0);
    this.forward.push(0);
    this.backward.push(0);
    for (let r = 0; r < NR; r++) this.reasons.push(0);
    return g;
  }

  count(g: number, row: HistoryRow): void {
    this.volume[g]!++;
    const outcome = row.slaOutcome;
    if (outcome === 'breached') {
      this.sla[g]!++;
      this.breached[g]!++;
      const r = row.breachReason === null ? undefined : REASON_INDEX.get(row.breachReason);
      if (r !== undefined) this.reasons[g * NR + r]!++;
    } else if (outcome === 'met') this.sla[g]!++;
    if (row.direction === 'forward') this.forward[g]!++;
    else if (row.direction === 'backward') this.backward[g]!++;
  }

  /** `values` are the group's businessMs; they are reordered. */
  metrics(g: number, values: Float64Array): ScorecardMetrics {
    const volume = this.volume[g]!;
    const sla = this.sla[g]!;
    const breached = this.breached[g]!;
    const reasons: { reason: Reason; count: number }[] = [];
    for (let r = 0; r < NR; r++) {
      const count = this.reasons[g * NR + r]!;
      if (count > 0) reasons.push({ reason: BREACH_REASONS[r]!, count });
    }
    const { median, p90 } = medianAndP90(values);
    reasons.sort((a, b) => b.count - a.count || (a.reason < b.reason ? -1 : a.reason > b.reason ? 1 : 0));
    return {
      volume,
      medianTimeInStageMs: median,
      p90TimeInStageMs: p90,
      slaVisits: sla,
      breached,
      breachRate: sla === 0 ? null : breached / sla,
      conversionRate: volume === 0 ? null : this.forward[g]! / volume,
      backflowRate: volume === 0 ? null : this.backward[g]! / volume,
      topBreachReasons: reasons.slice(0, 3),
    };
  }
}

/** Values of every group laid out contiguously (a counting sort by group), one view per group. */
function groupSlices(groupOf: Int32Array, values: Float64Array, sizes: number[]): Float64Array[] {
  const offsets = new Int32Array(sizes.length + 1);
  for (let g = 0; g < sizes.length; g++) offsets[g + 1] = offsets[g]! + sizes[g]!;
  const cursor = offsets.slice(0, sizes.length);
  const out = new Float64Array(offsets[sizes.length]!);
  for (let i = 0; i < groupOf.length; i++) {
    const g = groupOf[i]!;
    if (g >= 0) out[cursor[g]!++] = values[i]!;
  }
  return sizes.map((_, g) => out.subarray(offsets[g]!, offsets[g + 1]!));
}

type StageMeta = {
  pipeline: { id: string; label: string };
  stage: { id: string; label: string };
  known: boolean;
  /** The playbook's owner role of the stage and its group, to skip the role lookup for most rows. */
  roleId: string | null;
  roleGroup: number;
};

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The weekly scorecard of §4.7. Cohort: visits with `exitedAt` in [local Monday 00:00, next local Monday 00:00).
 * Stages follow playbook order; visits to stages or roles the playbook no longer has (an edited playbook) still
 * count, listed after the known ones under their ids, so totals never silently lose visits.
 */
export function computeScorecard(input: ScorecardInput): Scorecard {
  const { rows, playbook } = input;
  const range = weekRange(input.week, input.zone ?? reportingZone(playbook));

  const stages = new Counters();
  const stageMeta: StageMeta[] = [];
  const roles = new Counters();
  const roleIndex = new Map<string, number>();
  const roleMeta: { role: { id: string; name: string }; known: boolean }[] = [];
  for (const r of playbook.roles) {
    roleIndex.set(r.id, roles.add());
    roleMeta.push({ role: { id: r.id, name: r.name }, known: true });
  }
  const roleGroup = (id: string): number => {
    let rg = roleIndex.get(id);
    if (rg === undefined) {
      rg = roles.add();
      roleIndex.set(id, rg);
      roleMeta.push({ role: { id, name: id }, known: false });
    }
    return rg;
  };

  // HubSpot stage ids are unique across pipelines (the playbook schema enforces it), so one lookup by stage id
  // finds the group and a string compare confirms the pipeline; the two-level map is only for the rest.
  const stageById = new Map<string, number>();
  const stageIndex = new Map<string, Map<string, number>>();
  const pipelineLabel = new Map<string, string>();
  const addStage = (pipeline: { id: string; label: string }, stage: { id: string; label: string }, role: string | null, known: boolean) => {
    const g = stages.add();
    let m = stageIndex.get(pipeline.id);
    if (!m) stageIndex.set(pipeline.id, (m = new Map()));
    m.set(stage.id, g);
    if (!stageById.has(stage.id)) stageById.set(stage.id, g);
    stageMeta.push({ pipeline, stage, known, roleId: role, roleGroup: role === null ? -1 : roleGroup(role) });
    return g;
  };
  for (const pl of playbook.pipelines) {
    pipelineLabel.set(pl.id, pl.label);
    for (const st of pl.stages) addStage({ id: pl.id, label: pl.label }, { id: st.id, label: st.label }, st.ownerRole, true);
  }
  const stageGroup = (row: HistoryRow): number => {
    const g = stageById.get(row.stage);
    if (g !== undefined && stageMeta[g]!.pipeline.id === row.pipeline) return g;
    return (
      stageIndex.get(row.pipeline)?.get(row.stage) ??
      addStage({ id: row.pipeline, label: pipelineLabel.get(row.pipeline) ?? row.pipeline }, { id: row.stage, label: row.stage }, null, false)
    );
  };
  const totals = new Counters();
  totals.add();
  // Event clock runs (rows with `clock`) are counted per clock, never as stage visits or in the totals.
  const clocks = new Counters();
  const clockIndex = new Map<string, number>();
  const clockIds: string[] = [];
  const clockGroup = (id: string): number => {
    let g = clockIndex.get(id);
    if (g === undefined) {
      g = clocks.add();
      clockIndex.set(id, g);
      clockIds.push(id);
    }
    return g;
  };

  const n = rows.length;
  const stageOf = new Int32Array(n);
  const roleOf = new Int32Array(n);
  const clockOf = new Int32Array(n).fill(-1);
  const values = new Float64Array(n);
  const { start, end } = range;
  for (let i = 0; i < n; i++) {
    const row = rows[i]!;
    const exited = row.exitedAt;
    if (!(exited >= start && exited < end)) {
      stageOf[i] = -1;
      roleOf[i] = -1;
      continue;
    }
    if (row.clock !== undefined) {
      const cg = clockGroup(row.clock);
      clocks.count(cg, row);
      clockOf[i] = cg;
      stageOf[i] = -1;
      roleOf[i] = -1;
      values[i] = row.businessMs;
      continue;
    }
    const sg = stageGroup(row);
    const meta = stageMeta[sg]!;
    // The row's role is almost always the stage's role: a string compare instead of a map lookup.
    const rg = meta.roleId === row.ownerRole ? meta.roleGroup : roleGroup(row.ownerRole);
    stages.count(sg, row);
    roles.count(rg, row);
    totals.count(0, row);
    stageOf[i] = sg;
    roleOf[i] = rg;
    values[i] = row.businessMs;
  }

  const stageValues = groupSlices(stageOf, values, stages.volume);
  const roleValues = groupSlices(roleOf, values, roles.volume);
  const allValues = groupSlices(stageOf.map((g) => (g >= 0 ? 0 : -1)), values, totals.volume)[0]!;
  const clockValues = groupSlices(clockOf, values, clocks.volume);

  const stageOrder = stageMeta
    .map((meta, g) => ({ meta, g }))
    .filter(({ g }) => stages.volume[g]! > 0)
    .sort((a, b) =>
      a.meta.known && b.meta.known
        ? a.g - b.g
        : a.meta.known !== b.meta.known
          ? (a.meta.known ? -1 : 1)
          : byText(a.meta.pipeline.id, b.meta.pipeline.id) || byText(a.meta.stage.id, b.meta.stage.id),
    );
  const roleOrder = roleMeta
    .map((meta, g) => ({ meta, g }))
    .filter(({ g }) => roles.volume[g]! > 0)
    .sort((a, b) =>
      a.meta.known && b.meta.known ? a.g - b.g : a.meta.known !== b.meta.known ? (a.meta.known ? -1 : 1) : byText(a.meta.role.id, b.meta.role.id),
    );

  return {
    week: range.week,
    weekStart: range.weekStart,
    weekEnd: range.weekEnd,
    timeZone: range.timeZone,
    availableWeeks: input.availableWeeks ?? [],
    byStage: stageOrder.map(({ meta, g }) => ({
      pipeline: meta.pipeline,
      stage: meta.stage,
      ...stages.metrics(g, stageValues[g]!),
    })),
    byRole: roleOrder.map(({ meta, g }) => ({ role: meta.role, ...roles.metrics(g, roleValues[g]!) })),
    totals: totals.metrics(0, allValues),
    ...(clockIds.length > 0
      ? {
          byClock: playbookClockOrder(playbook, clockIds).map(({ id, g, label }) => ({
            clock: { id, label },
            // A run is not a visit: it converts or flows back nowhere.
            ...clocks.metrics(g, clockValues[g]!),
            conversionRate: null,
            backflowRate: null,
          })),
        }
      : {}),
  };
}

/** Clocks in playbook order, then clocks the playbook no longer has, by id. */
function playbookClockOrder(playbook: Playbook, seen: string[]): { id: string; g: number; label: string }[] {
  const label = new Map(playbook.clocks.map((c, i) => [c.id, { label: c.label, order: i }]));
  return seen
    .map((id, g) => ({ id, g, label: label.get(id)?.label ?? id, order: label.get(id)?.order ?? Infinity }))
    .sort((a, b) => a.order - b.order || byText(a.id, b.id));
}
