import { describe, expect, it } from 'vitest';
import { computeScorecard } from './compute';
import { formatScorecard } from './format';
import { scorecardPlaybook, visit } from './fixtures';
import { weekRange } from './week';

// Seed 000 lines 125-134 (weekly scorecard: SLA breach rate, top breach reasons) for the care-continuity clocks
// of lines 87-90: event clock runs are reported per clock, apart from the stage visits.
const WEEK = '2026-W47';
const { start } = weekRange(WEEK, 'America/New_York');
const H = 3600_000;
const playbook = scorecardPlaybook();
playbook.clocks = [
  {
    id: 'support_inquiry',
    label: 'Support inquiry response',
    start: { property: 'support_inquiry_at', on: 'change' },
    startAt: 'value',
    stopOn: [{ property: 'support_inquiry_responded_at', on: 'change' }],
    stopWhen: [],
    sla: {
      target: '1h',
      basis: 'calendar',
      overrides: [],
      pauseWhen: [],
      warningAt: 75,
      escalations: [],
      noticesInStaffedHours: true,
    },
  },
];
const run = (hours: number, outcome: 'met' | 'breached', reason: 'capacity' | null = null) =>
  visit({
    stage: 'clock.support_inquiry',
    clock: 'support_inquiry',
    exitedAt: start + 10 * H,
    businessMs: hours * H,
    direction: 'exit',
    toStage: null,
    slaOutcome: outcome,
    breachReason: reason,
  });

describe('computeScorecard: event clocks', () => {
  it('reports runs per clock (breach rate, reasons, time to stop) and leaves stages and totals alone', () => {
    const card = computeScorecard({
      playbook,
      week: WEEK,
      rows: [run(0.5, 'met'), run(3, 'breached', 'capacity'), visit({ exitedAt: start + H })],
    });
    expect(card.byClock).toMatchObject([
      {
        clock: { id: 'support_inquiry', label: 'Support inquiry response' },
        volume: 2,
        medianTimeInStageMs: 1.75 * H,
        p90TimeInStageMs: 3 * H,
        slaVisits: 2,
        breached: 1,
        breachRate: 0.5,
        conversionRate: null,
        backflowRate: null,
        topBreachReasons: [{ reason: 'capacity', count: 1 }],
      },
    ]);
    expect(card.byStage.map((r) => r.stage.id)).not.toContain('clock.support_inquiry');
    expect(card.totals.volume).toBe(1);
  });

  it('the CLI table lists the clocks after the stages', () => {
    const card = computeScorecard({
      playbook,
      week: WEEK,
      rows: [run(0.5, 'met'), visit({ exitedAt: start + H })],
    });
    const text = formatScorecard(card, 'table');
    expect(text).toContain('By event clock');
    expect(text.split('\n').find((l) => l.startsWith('Support inquiry response'))).toMatch(
      /^Support inquiry response\s+1\s+30m/,
    );
  });

  it('has no byClock section when the week has no clock runs', () => {
    expect(
      computeScorecard({ playbook, week: WEEK, rows: [visit({ exitedAt: start + H })] }).byClock,
    ).toBeUndefined();
  });
});
