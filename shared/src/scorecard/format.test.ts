import { describe, expect, it } from 'vitest';
import { computeScorecard } from './compute';
import { scorecardPlaybook, visit } from './fixtures';
import { formatDurationMs, formatScorecard } from './format';
import { Scorecard } from './types';
import { weekRange } from './week';

const H = 3600_000;
const playbook = scorecardPlaybook();
playbook.pipelines[0]!.stages[0]!.label = 'New referral, "web"';
const { start } = weekRange('2026-W47', 'America/New_York');
const card = computeScorecard({
  playbook,
  week: '2026-W47',
  rows: [
    visit({ exitedAt: start + H, businessMs: 2.25 * H, slaOutcome: 'breached', breachReason: 'capacity' }),
    visit({ exitedAt: start + H, businessMs: 0.5 * H, slaOutcome: 'met' }),
    visit({
      exitedAt: start + H,
      stage: 's3',
      ownerRole: 'clinical',
      businessMs: 30 * H,
      direction: 'backward',
      toStage: 's1',
    }),
  ],
});

describe('formatScorecard', () => {
  it('json is the scorecard itself, valid against the contract schema', () => {
    const parsed = JSON.parse(formatScorecard(card, 'json'));
    expect(Scorecard.parse(parsed)).toEqual(card);
  });

  it('csv has one row per stage, per role and a total, quoting labels with commas and quotes', () => {
    const lines = formatScorecard(card, 'csv').split('\r\n');
    expect(lines[0]).toBe(
      'week,scope,pipeline_id,pipeline,stage_id,stage,role_id,role,volume,median_ms,p90_ms,sla_visits,breached,breach_rate,conversion_rate,backflow_rate,top_breach_reasons,' +
        'drop_off_rate,in_stage,median_age_ms,max_age_ms,open_breached,reason_corrections,metric,value',
    );
    expect(lines[1]).toBe(
      `2026-W47,stage,p1,Telehealth intake,s1,"New referral, ""web""",,,2,${1.375 * H},${2.25 * H},2,1,0.5,1,0,capacity:1,0,0,,,0,0,,`,
    );
    expect(lines[2]).toBe(
      `2026-W47,stage,p1,Telehealth intake,s3,Clinical review,,,1,${30 * H},${30 * H},0,0,,0,1,,0,0,,,0,0,,`,
    );
    expect(lines.slice(3).map((l) => l.split(',').slice(0, 8).join(','))).toEqual([
      '2026-W47,role,,,,,intake,Intake coordinator',
      '2026-W47,role,,,,,clinical,Clinical ops',
      '2026-W47,total,,,,,,',
    ]);
  });

  it('table shows the week, aligned columns, durations and percentages, and no deal ids', () => {
    const text = formatScorecard(card, 'table');
    expect(text).toContain('Scorecard 2026-W47: 2026-11-16 to 2026-11-22 (America/New_York)');
    expect(text).toMatch(/Pipeline\s+Stage\s+Visits\s+Median\s+P90/);
    expect(text).toMatch(
      /New referral, "web"\s+2\s+1h 23m\s+2h 15m\s+2\s+1\s+50\.0%\s+100\.0%\s+0\.0%\s+0\.0%\s+0\s+-\s+-\s+0\s+0\s+capacity:1/,
    );
    expect(text).toMatch(
      /Clinical review\s+1\s+30h\s+30h\s+0\s+0\s+-\s+0\.0%\s+100\.0%\s+0\.0%\s+0\s+-\s+-\s+0\s+0\s+-$/m,
    );
    expect(text).toContain('By owner role');
    // Right-aligned numbers: the visit counts end where the "Visits" title ends.
    const lines = text.split('\n');
    const header = lines.find((l) => l.startsWith('Pipeline'))!;
    const row = lines.find((l) => l.includes('Clinical review'))!;
    const visitsEnd = header.indexOf('Visits') + 'Visits'.length;
    expect(row.slice(visitsEnd - 1, visitsEnd)).toBe('1');
    expect(text).not.toMatch(/\b\d{4,}\b(?!-)/); // no ids or raw ms leak into the human view
  });

  it('table shows an empty state for a week without visits', () => {
    const empty = computeScorecard({ playbook, week: '2026-W47', rows: [] });
    expect(formatScorecard(empty, 'table')).toBe(
      'Scorecard 2026-W47: 2026-11-16 to 2026-11-22 (America/New_York)\n\nNo stage visits ended in this week and no deal is in a stage.',
    );
  });

  it('formats business durations in hours and minutes', () => {
    expect([
      formatDurationMs(null),
      formatDurationMs(59_000),
      formatDurationMs(90 * 60_000),
      formatDurationMs(49 * H),
    ]).toEqual(['-', '1m', '1h 30m', '49h']);
  });
});
