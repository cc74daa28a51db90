import { describe, expect, it } from 'vitest';
import { fixturePlaybook, HOUR, MIN, MON_10, only, snap, withClocks } from './fixtures';
import { onTimer } from './on-timer';
import { reconcile } from './reconcile';
import { taskTime, taskZone } from './task-time';

// Reps read task subjects and bodies in HubSpot as they are: times in the portal's zone, in words (issue 15).
describe('task times in words, in the stage calendar zone', () => {
  it('formats an instant with its zone named, standard and daylight time alike', () => {
    expect(taskTime(Date.parse('2026-11-23T14:15:00Z'), 'America/New_York')).toBe('Mon 23 Nov, 9:15 AM EST');
    expect(taskTime(Date.parse('2026-07-06T21:05:00Z'), 'America/Los_Angeles')).toBe(
      'Mon 6 Jul, 2:05 PM PDT',
    );
    expect(taskTime(Date.parse('2026-11-23T14:15:00Z'), 'UTC')).toBe('Mon 23 Nov, 2:15 PM UTC');
  });

  const playbook = fixturePlaybook();
  it('takes the zone of the named calendar, else of the first calendar', () => {
    expect(taskZone(playbook, 'clinic')).toBe('America/New_York');
    expect(taskZone(playbook, undefined)).toBe(playbook.calendars[0]!.timeZone);
    expect(taskZone({ ...playbook, calendars: [] }, undefined)).toBe('UTC');
  });

  const base = snap({ properties: { num_contacted_notes: '0' } });
  const entered = reconcile({ playbook, state: null, snapshot: base, now: MON_10 });
  const ID = `d1:lead:${MON_10}`;
  const due = 'Mon 2 Mar, 12:00 PM EST'; // MON_10 + 2 h staffed time on the clinic calendar

  it('the SLA task body on stage entry', () => {
    const [task] = only(entered, 'createTask').filter((t) => t.kind === 'sla');
    expect(task!.body).toContain(`due ${due}.`);
    expect(task!.body).not.toMatch(/\dT\d/);
  });

  it('the warning task subject and body', () => {
    const r = onTimer({
      playbook,
      state: entered.state,
      snapshot: base,
      timer: { timerId: `${ID}:warning`, kind: 'warning', entryId: ID },
      now: MON_10 + 1.5 * HOUR,
    });
    const [task] = only(r, 'createTask');
    expect(task!.subject).toBe(`Lead: SLA due ${due}`);
    expect(task!.body).toContain(`It breaches at ${due}.`);
  });

  it('the escalation task body', () => {
    const r = onTimer({
      playbook,
      state: entered.state,
      snapshot: base,
      timer: { timerId: `${ID}:level:0`, kind: 'escalation', level: 0, entryId: ID },
      now: MON_10 + 2 * HOUR,
    });
    const task = only(r, 'createTask').find((t) => t.kind === 'escalation')!;
    expect(task.body).toContain(`(due ${due})`);
  });

  it('the handoff task body', () => {
    const moved = reconcile({
      playbook,
      state: entered.state,
      snapshot: snap({ ownerId: '102', properties: { num_contacted_notes: '0' } }),
      now: MON_10 + HOUR,
    });
    const task = only(moved, 'createTask').find((t) => t.kind === 'handoff')!;
    expect(task.body).toContain(`Stage SLA due ${due} (running).`);
  });

  it("an event clock's SLA, warning and escalation tasks, in its calendar's zone", () => {
    const clocks = withClocks();
    const inquiry = MON_10 + 5 * MIN;
    const seen = reconcile({ playbook: clocks, state: null, snapshot: snap(), now: MON_10 });
    const asked = snap({ properties: { support_inquiry_at: String(inquiry) } });
    const started = reconcile({ playbook: clocks, state: seen.state, snapshot: asked, now: inquiry });
    const run = started.state!.clocks![0]!;
    const clockDue = 'Mon 2 Mar, 11:05 AM EST'; // 1 h after the inquiry, inside the clinic's staffed hours
    const [task] = only(started, 'createTask').filter((t) => t.key === `${run.runId}:sla`);
    expect(task!.body).toContain(`due ${clockDue}.`);
    expect(task!.body).not.toMatch(/\dT\d/);
    const warn = onTimer({
      playbook: clocks,
      state: started.state,
      snapshot: asked,
      timer: { timerId: `${run.runId}:warning`, kind: 'warning', entryId: run.runId },
      now: inquiry + 45 * MIN,
    });
    expect(only(warn, 'createTask')[0]!.subject).toBe(`Support inquiry response: SLA due ${clockDue}`);
    const level = onTimer({
      playbook: clocks,
      state: started.state,
      snapshot: asked,
      timer: { timerId: `${run.runId}:level:0`, kind: 'escalation', level: 0, entryId: run.runId },
      now: inquiry + HOUR,
    });
    expect(only(level, 'createTask').find((t) => t.kind === 'escalation')!.body).toContain(
      `(due ${clockDue})`,
    );
  });
});
