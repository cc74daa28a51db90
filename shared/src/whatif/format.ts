import { csvField, formatDurationMs, table, type Column } from '../scorecard/format';
import type { WhatIfMetrics, WhatIfReport } from './types';

export const WHATIF_FORMATS = ['table', 'csv', 'json'] as const;
export type WhatIfFormat = (typeof WHATIF_FORMATS)[number];

/** A move of a due time: "+1h 30m", "-2h", "0m". */
export function formatShiftMs(ms: number | null): string {
  if (ms === null) return '-';
  if (Math.round(ms / 60_000) === 0) return '0m';
  return `${ms > 0 ? '+' : '-'}${formatDurationMs(Math.abs(ms))}`;
}

const percent = (rate: number | null) => (rate === null ? '-' : `${(rate * 100).toFixed(1)}%`);
const num = (n: number) => String(Math.round(n * 100) / 100);

const COLUMNS: Column[] = [
  { title: 'Visits', right: true },
  { title: 'Breach now', right: true },
  { title: 'Breach draft', right: true },
  { title: 'Warn/wk now', right: true },
  { title: 'Warn/wk draft', right: true },
  { title: 'Esc/wk now', right: true },
  { title: 'Esc/wk draft', right: true },
  { title: 'Tasks/wk now', right: true },
  { title: 'Tasks/wk draft', right: true },
  { title: 'Median due shift', right: true },
  { title: 'Flips', right: true },
  { title: 'Unknown', right: true },
];

const cells = (m: WhatIfMetrics): string[] => [
  String(m.visits),
  percent(m.current.breachRate),
  percent(m.draft.breachRate),
  num(m.current.warningsPerWeek),
  num(m.draft.warningsPerWeek),
  num(m.current.escalationsPerWeek),
  num(m.draft.escalationsPerWeek),
  num(m.current.tasksPerWeek),
  num(m.draft.tasksPerWeek),
  formatShiftMs(m.medianDueShiftMs),
  String(m.flips),
  // The draft's unknowns are what an admin must read with care; the playbook in force's are usually the same rows.
  String(Math.max(m.current.unknown, m.draft.unknown)),
];

function formatTable(r: WhatIfReport): string {
  const out = [
    `What-if: draft v${r.draftVersion} against v${r.currentVersion} in force, ${r.weeks} week(s) from ${r.from} to ${r.to}`,
    '',
  ];
  if (r.totals.visits === 0) out.push('No stage visits ended in this window.');
  else {
    out.push('By stage');
    out.push(
      ...table(
        [{ title: 'Stage' }, ...COLUMNS],
        r.byStage.map((s) => [s.stage.label, ...cells(s)]),
      ),
    );
    out.push('', 'By owner role');
    out.push(
      ...table(
        [{ title: 'Role' }, ...COLUMNS],
        r.byRole.map((s) => [s.role.name, ...cells(s)]),
      ),
    );
    out.push('', 'All visits');
    out.push(...table(COLUMNS, [cells(r.totals)]));
    out.push('', `Outcome flips: ${r.flipsTotal}`);
    const label = new Map(r.byStage.map((s) => [s.stage.id, s.stage.label]));
    for (const f of r.flipped.slice(0, 20))
      out.push(`  deal ${f.dealId} in ${label.get(f.stage) ?? f.stage}: ${f.from} -> ${f.to}`);
    if (r.flipsTotal > 20)
      out.push(`  ... ${r.flipsTotal - 20} more (--format json lists up to ${r.flipped.length})`);
  }
  out.push('', `Repair preview: ${r.repair.deals} running visit(s)`);
  if (r.repair.byStage.length > 0)
    out.push(
      ...table(
        [
          { title: 'Stage' },
          { title: 'Running', right: true },
          { title: 'Moved', right: true },
          { title: 'Median move', right: true },
          { title: 'Min', right: true },
          { title: 'Max', right: true },
          { title: 'SLA removed', right: true },
          { title: 'SLA added', right: true },
          { title: 'Unknown', right: true },
        ],
        r.repair.byStage.map((s) => [
          s.stage.label,
          String(s.deals),
          String(s.moved),
          formatShiftMs(s.medianShiftMs),
          formatShiftMs(s.minShiftMs),
          formatShiftMs(s.maxShiftMs),
          String(s.removed),
          String(s.added),
          String(s.unknown),
        ]),
      ),
    );
  out.push(
    '',
    'Both playbooks are replayed over the same recorded visits. "Unknown": visits recorded without a value the playbook reads',
    '(never guessed). Breach rate = breached / visits with an SLA outcome; due shift = draft due time - due time in force.',
  );
  return out.join('\n');
}

const CSV_HEADER = [
  'scope',
  'stage_id',
  'stage',
  'role_id',
  'role',
  'visits',
  'breach_rate_current',
  'breach_rate_draft',
  'breached_current',
  'breached_draft',
  'warnings_per_week_current',
  'warnings_per_week_draft',
  'escalations_per_week_current',
  'escalations_per_week_draft',
  'tasks_per_week_current',
  'tasks_per_week_draft',
  'median_due_shift_ms',
  'flips',
  'unknown_current',
  'unknown_draft',
];

function formatCsv(r: WhatIfReport): string {
  const n = (v: number | null) => (v === null ? '' : String(v));
  const metrics = (m: WhatIfMetrics) => [
    String(m.visits),
    n(m.current.breachRate),
    n(m.draft.breachRate),
    String(m.current.breached),
    String(m.draft.breached),
    n(m.current.warningsPerWeek),
    n(m.draft.warningsPerWeek),
    n(m.current.escalationsPerWeek),
    n(m.draft.escalationsPerWeek),
    n(m.current.tasksPerWeek),
    n(m.draft.tasksPerWeek),
    n(m.medianDueShiftMs),
    String(m.flips),
    String(m.current.unknown),
    String(m.draft.unknown),
  ];
  const lines = [CSV_HEADER];
  for (const s of r.byStage) lines.push(['stage', s.stage.id, s.stage.label, '', '', ...metrics(s)]);
  for (const s of r.byRole) lines.push(['role', '', '', s.role.id, s.role.name, ...metrics(s)]);
  lines.push(['total', '', '', '', '', ...metrics(r.totals)]);
  return lines.map((l) => l.map(csvField).join(',')).join('\r\n');
}

export function formatWhatIf(report: WhatIfReport, format: WhatIfFormat): string {
  switch (format) {
    case 'json':
      return JSON.stringify(report, null, 2);
    case 'csv':
      return formatCsv(report);
    case 'table':
      return formatTable(report);
  }
}
