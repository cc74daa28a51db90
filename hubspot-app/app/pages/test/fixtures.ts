import type { ScorecardMetrics, Scorecard } from '@stagekeeper/app-client/api';

const m = (over: Partial<ScorecardMetrics>): ScorecardMetrics => ({
  volume: 0,
  medianTimeInStageMs: null,
  p90TimeInStageMs: null,
  slaVisits: 0,
  breached: 0,
  breachRate: null,
  conversionRate: null,
  backflowRate: null,
  topBreachReasons: [],
  ...over,
});

export const scorecard = (week = '2026-W47', scale = 1): Scorecard => ({
  week,
  weekStart: '2026-11-16',
  weekEnd: '2026-11-22',
  timeZone: 'America/New_York',
  availableWeeks: ['2026-W47', '2026-W46', '2026-W45'],
  totals: m({ volume: 52 * scale }),
  byStage: [
    {
      pipeline: { id: 'p1', label: 'Telehealth intake' },
      stage: { id: 's1', label: 'New referral' },
      ...m({
        volume: 40 * scale,
        medianTimeInStageMs: 2.25 * 3_600_000,
        slaVisits: 40 * scale,
        breached: 4 * scale,
        breachRate: 0.1,
        conversionRate: 0.875,
        backflowRate: 0.05,
        dropOffRate: 0.025,
        inStage: 6,
        maxAgeMs: 26 * 3_600_000,
        openBreached: 2,
        topBreachReasons: [
          { reason: 'capacity', count: 3 * scale },
          { reason: 'patient_unreachable', count: scale },
        ],
      }),
    },
    {
      pipeline: { id: 'p1', label: 'Telehealth intake' },
      stage: { id: 's2', label: 'Clinical review' },
      ...m({
        volume: 12 * scale,
        medianTimeInStageMs: 30 * 60_000,
        slaVisits: 0,
        conversionRate: 1,
        backflowRate: 0,
      }),
    },
  ],
  byRole: [
    {
      role: { id: 'intake', name: 'Intake coordinator' },
      ...m({
        volume: 40 * scale,
        medianTimeInStageMs: 2.25 * 3_600_000,
        slaVisits: 40 * scale,
        breached: 4 * scale,
        breachRate: 0.1,
        conversionRate: 0.875,
        backflowRate: 0.05,
        topBreachReasons: [{ reason: 'capacity', count: 3 * scale }],
      }),
    },
  ],
  byDimension: [
    {
      dimension: { property: 'referrer_ods_code', label: 'Referring partner' },
      value: 'A81001',
      ...m({ volume: 7 }),
    },
  ],
});
