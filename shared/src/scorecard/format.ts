import type { ScorecardFunnel } from './funnel';
import type { Scorecard, ScorecardMetrics } from './types';

export const SCORECARD_FORMATS = ['table', 'csv', 'json'] as const;
export type ScorecardFormat = (typeof SCORECARD_FORMATS)[number];

/** Business durations read best in hours and minutes; days would suggest 24 staffed hours per day. */
export function formatDurationMs(ms: number | null): string {
  if (ms === null) return '-';
  const minutes = Math.round(ms / 60_000);
  if (minutes < 60) return `${minutes}m`;
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return m === 0 ? `${h}h` : `${h}h ${m}m`;
}

const percent = (rate: number | null) => (rate === null ? '-' : `${(rate * 100).toFixed(1)}%`);
const reasonsText = (m: ScorecardMetrics, sep: string) =>
  m.topBreachReasons.map((r) => `${r.reason}:${r.count}`).join(sep);

export type Column = { title: string; right?: boolean };
const METRIC_COLUMNS: Column[] = [
  { title: 'Visits', right: true },
  { title: 'Median', right: true },
  { title: 'P90', right: true },
  { title: 'SLA visits', right: true },
  { title: 'Breached', right: true },
  { title: 'Breach rate', right: true },
  { title: 'Conversion', right: true },
  { title: 'Backflow', right: true },
  { title: 'Drop-off', right: true },
  { title: 'In stage', right: true },
  { title: 'Median age', right: true },
  { title: 'Oldest', right: true },
  { title: 'Open breached', right: true },
  { title: 'Corrected', right: true },
  { title: 'Top breach reasons' },
];

/** Ages are wall time since entry: a deal waiting over a weekend has waited the weekend. */
function formatAgeMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '-';
  const hours = ms / 3_600_000;
  return hours < 48 ? formatDurationMs(ms) : `${Math.floor(hours / 24)}d ${Math.round(hours % 24)}h`;
}

const metricCells = (m: ScorecardMetrics): string[] => [
  String(m.volume),
  formatDurationMs(m.medianTimeInStageMs),
  formatDurationMs(m.p90TimeInStageMs),
  String(m.slaVisits),
  String(m.breached),
  percent(m.breachRate),
  percent(m.conversionRate),
  percent(m.backflowRate),
  percent(m.dropOffRate ?? null),
  String(m.inStage ?? 0),
  formatAgeMs(m.medianAgeMs),
  formatAgeMs(m.maxAgeMs),
  String(m.openBreached ?? 0),
  String(m.reasonCorrections ?? 0),
  reasonsText(m, ', ') || '-',
];

export function table(columns: Column[], rows: string[][]): string[] {
  const widths = columns.map((c, i) => Math.max(c.title.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (columns[i]!.right ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.title)), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
}

function formatTable(card: Scorecard): string {
  const out = [
    `Scorecard ${card.period === 'month' ? 'month ' : ''}${card.week}: ${card.weekStart} to ${card.weekEnd} (${card.timeZone})`,
    '',
  ];
  if (card.totals.volume === 0 && !card.totals.inStage) {
    out.push('No stage visits ended in this week and no deal is in a stage.');
    return out.join('\n');
  }
  out.push('By stage');
  out.push(
    ...table(
      [{ title: 'Pipeline' }, { title: 'Stage' }, ...METRIC_COLUMNS],
      card.byStage.map((r) => [r.pipeline.label, r.stage.label, ...metricCells(r)]),
    ),
  );
  out.push('', 'By owner role');
  out.push(
    ...table(
      [{ title: 'Role' }, ...METRIC_COLUMNS],
      card.byRole.map((r) => [r.role.name, ...metricCells(r)]),
    ),
  );
  const dims = card.byDimension ?? [];
  for (const label of [...new Set(dims.map((r) => r.dimension.label))]) {
    out.push('', `By ${label}`);
    out.push(
      ...table(
        [{ title: label }, ...METRIC_COLUMNS],
        dims.filter((r) => r.dimension.label === label).map((r) => [r.value, ...metricCells(r)]),
      ),
    );
  }
  if (card.funnel) out.push('', ...funnelLines(card.funnel));
  out.push('', 'All visits');
  out.push(...table(METRIC_COLUMNS, [metricCells(card.totals)]));
  if (card.byClock?.length) {
    out.push('', 'By event clock (runs stopped this week; median and P90 are time to stop)');
    out.push(
      ...table(
        [{ title: 'Clock' }, ...METRIC_COLUMNS],
        card.byClock.map((r) => [r.clock.label, ...metricCells(r)]),
      ),
    );
  }
  out.push(
    '',
    "Median and P90 are time in stage on each stage's SLA basis: staffed time for business-time stages, wall time otherwise.",
  );
  out.push(
    'Visits ended in the week; In stage, ages and Open breached are the deals still in the stage at its end (or now).',
  );
  out.push(
    'Breach rate counts open breaches too; Conversion excludes moves into closed-lost stages (Drop-off); Backflow excludes declared loops.',
  );
  return out.join('\n');
}

const count = (n: number, of: number | null, rate: number | null) =>
  `${n}${of === null ? '' : ` of ${of}`}${rate === null ? '' : ` (${percent(rate)})`}`;

/** 003's and 004's named metrics as label/value lines (docs/scorecard.md, "Intake funnel"). */
export function funnelRows(f: ScorecardFunnel): [string, string][] {
  const rows: [string, string][] = [
    ['Received', String(f.received)],
    ['Contact rate', `${percent(f.contactRate)}  (${f.contacted} of ${f.received} first-touched)`],
    ['First touch median', formatDurationMs(f.firstTouchMedianMs)],
    ['First touch P90', formatDurationMs(f.firstTouchP90Ms)],
    ['Incomplete rate', `${percent(f.incompleteRate)}  (${f.incomplete} of ${f.received})`],
    ['Appointments booked', String(f.appointmentsBooked)],
    [
      'Closure reasons',
      f.closureReasons.map((c) => `${c.stage.label}/${c.reason ?? '-'}:${c.count}`).join(', ') || '-',
    ],
  ];
  const r = f.reReferral;
  if (r)
    rows.push(
      [
        'Re-referral (30 days)',
        `${percent(r.rate)}  (${count(r.reReferred, r.decided, null)} decided; ${r.pending} pending; ${r.noPartner} without partner)`,
      ],
      ['Partners referring again', `${r.partnersReferringAgain} of ${r.partners}`],
    );
  return rows;
}

function funnelLines(f: ScorecardFunnel): string[] {
  return [
    `Intake funnel (${f.receivedStage.label})`,
    ...table([{ title: 'Metric' }, { title: 'Value' }], funnelRows(f)),
  ];
}

/** RFC 4180: quote when a field holds a comma, quote or line break; labels are user-written. */
export const csvField = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
const csvNumber = (v: number | null) => (v === null ? '' : String(v));

const CSV_HEADER = [
  'week',
  'scope',
  'pipeline_id',
  'pipeline',
  'stage_id',
  'stage',
  'role_id',
  'role',
  'volume',
  'median_ms',
  'p90_ms',
  'sla_visits',
  'breached',
  'breach_rate',
  'conversion_rate',
  'backflow_rate',
  'top_breach_reasons',
  // Added after the first release: appended so existing spreadsheet columns keep their places.
  'drop_off_rate',
  'in_stage',
  'median_age_ms',
  'max_age_ms',
  'open_breached',
  'reason_corrections',
  // Named metrics of the intake funnel (scope "funnel"), one per row.
  'metric',
  'value',
];

/** The funnel's metrics as (name, value) for CSV rows; rates as fractions, times in ms, counts as numbers. */
function funnelCsv(f: ScorecardFunnel): [string, string][] {
  const out: [string, string][] = [
    ['received', String(f.received)],
    ['contacted', String(f.contacted)],
    ['contact_rate', csvNumber(f.contactRate)],
    ['first_touch_median_ms', csvNumber(f.firstTouchMedianMs)],
    ['first_touch_p90_ms', csvNumber(f.firstTouchP90Ms)],
    ['incomplete', String(f.incomplete)],
    ['incomplete_rate', csvNumber(f.incompleteRate)],
    ['appointments_booked', String(f.appointmentsBooked)],
    ...f.closureReasons.map((c): [string, string] => [
      `closure:${c.stage.id}:${c.reason ?? ''}`,
      String(c.count),
    ]),
  ];
  const r = f.reReferral;
  if (r)
    out.push(
      ['re_referral_rate', csvNumber(r.rate)],
      ['re_referred', String(r.reReferred)],
      ['re_referral_decided', String(r.decided)],
      ['re_referral_pending', String(r.pending)],
      ['referrals_without_partner', String(r.noPartner)],
      ['partners', String(r.partners)],
      ['partners_referring_again', String(r.partnersReferringAgain)],
    );
  return out;
}

/** One flat table (stage, role and total rows told apart by `scope`) so a spreadsheet pivot needs no joins. */
function formatCsv(card: Scorecard): string {
  const metrics = (m: ScorecardMetrics) => [
    String(m.volume),
    csvNumber(m.medianTimeInStageMs),
    csvNumber(m.p90TimeInStageMs),
    String(m.slaVisits),
    String(m.breached),
    csvNumber(m.breachRate),
    csvNumber(m.conversionRate),
    csvNumber(m.backflowRate),
    reasonsText(m, ';'),
    csvNumber(m.dropOffRate ?? null),
    String(m.inStage ?? 0),
    csvNumber(m.medianAgeMs ?? null),
    csvNumber(m.maxAgeMs ?? null),
    String(m.openBreached ?? 0),
    String(m.reasonCorrections ?? 0),
    '',
    '',
  ];
  const lines = [CSV_HEADER];
  for (const r of card.byStage)
    lines.push([
      card.week,
      'stage',
      r.pipeline.id,
      r.pipeline.label,
      r.stage.id,
      r.stage.label,
      '',
      '',
      ...metrics(r),
    ]);
  for (const r of card.byRole)
    lines.push([card.week, 'role', '', '', '', '', r.role.id, r.role.name, ...metrics(r)]);
  // Dimension cuts: the property in stage_id and its value in stage (scope "dimension").
  for (const r of card.byDimension ?? [])
    lines.push([
      card.week,
      'dimension',
      '',
      r.dimension.label,
      r.dimension.property,
      r.value,
      '',
      '',
      ...metrics(r),
    ]);
  lines.push([card.week, 'total', '', '', '', '', '', '', ...metrics(card.totals)]);
  const f = card.funnel;
  if (f) {
    const blank = metrics(card.totals)
      .map(() => '')
      .slice(2);
    for (const [name, value] of funnelCsv(f))
      lines.push([
        card.week,
        'funnel',
        '',
        '',
        f.receivedStage.id,
        f.receivedStage.label,
        '',
        '',
        ...blank,
        name,
        value,
      ]);
  }
  return lines.map((cells) => cells.map(csvField).join(',')).join('\r\n');
}

export function formatScorecard(card: Scorecard, format: ScorecardFormat): string {
  switch (format) {
    case 'json':
      return JSON.stringify(card, null, 2);
    case 'csv':
      return formatCsv(card);
    case 'table':
      return formatTable(card);
  }
}
