import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { addBusinessTime, compileCalendar } from '../clock';
import { parsePlaybook, renderPlaybookPath } from './load';

/** One stage on a calendar staffed one minute a week (issue 12: a 1,000 h target froze the service for 29 s). */
const sparse = (target: string, extra: Record<string, unknown> = {}) => ({
  schemaVersion: 1,
  name: 'Sparse',
  calendars: [
    { id: 'minute', timeZone: 'America/New_York', hours: { wed: [{ start: '10:00', end: '10:01' }] } },
  ],
  roles: [{ id: 'intake', name: 'Intake', owners: ['101'], lead: '100' }],
  pipelines: [
    {
      id: 'p1',
      label: 'Intake',
      stages: [
        { id: 'new', label: 'New', ownerRole: 'intake' },
        {
          id: 'waiting',
          label: 'Waiting',
          ownerRole: 'intake',
          sla: { target, calendar: 'minute', ...extra },
        },
      ],
    },
  ],
});

describe('targets a calendar cannot reach within the horizon are refused (path, line, stage named)', () => {
  it('refuses 1000h on a calendar open one minute a week', () => {
    const text = stringify(sparse('1000h'));
    const r = parsePlaybook(text, 'yaml', 'sparse.yaml');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors).toHaveLength(1);
    const [e] = r.errors;
    expect(renderPlaybookPath(e!.path)).toBe('pipelines[0].stages[1].sla.target');
    expect(e!.line).toBe(text.split('\n').findIndex((l) => l.includes('target: 1000h')) + 1);
    expect(e!.message).toMatch(/stage "waiting".*calendar "minute".*60000 weeks.*within 52 weeks/);
  });

  it('counts the last escalation level: 40m reachable alone, not when escalated at 200 %', () => {
    expect(parsePlaybook(stringify(sparse('40m'))).ok).toBe(true);
    const r = parsePlaybook(
      stringify(sparse('40m', { escalations: [{ at: 200, actions: [{ type: 'taskForLead' }] }] })),
    );
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors[0]!.message).toMatch(/200 % of it for the last escalation: 1h20m/);
  });

  it('calendar-time targets are not limited by the calendar', () => {
    expect(parsePlaybook(stringify(sparse('1000h', { basis: 'calendar' }))).ok).toBe(true);
  });

  it('what validation accepts, the clock computes: the largest accepted target is reached', () => {
    const r = parsePlaybook(stringify(sparse('52m')));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const cal = compileCalendar(r.playbook.calendars[0]!);
    expect(() => addBusinessTime(cal, Date.parse('2026-01-05T00:00:00Z'), 52 * 60_000)).not.toThrow();
  });
});
