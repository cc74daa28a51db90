import { describe, expect, it } from 'vitest';
import { fixturePlaybook, HOUR, MIN, MON_10, snap } from './fixtures';
import { reconcile } from './reconcile';
import type { DealSnapshot, DealState } from './types';
import { dependsOnUnreadTasks } from './unread-tasks';

const playbook = fixturePlaybook();
const T1 = MON_10 + HOUR;
const LEAD = `d1:lead:${MON_10}`;
const INTAKE = `d1:intake:${T1}`;

const decideWith = (state: DealState, now: number) => (s: DealSnapshot) =>
  reconcile({ playbook, state, snapshot: s, now });

/** The service's view: every task Stagekeeper left open is taken as open and listed as unread. */
function unread(s: DealSnapshot, keys: string[]): DealSnapshot {
  const tasks = { ...s.tasks };
  for (const k of keys) tasks[k] = 'NOT_STARTED';
  return { ...s, tasks, unreadTasks: keys };
}

describe('dependsOnUnreadTasks', () => {
  const lead = reconcile({ playbook, state: null, snapshot: snap(), now: MON_10 }).state!;
  const leadTasks = [`${LEAD}:sla`, `${LEAD}:task:call`];

  it('a forward move that passes its gate does not depend on them: leaving closes the tasks whatever their status', () => {
    const moved = unread(
      snap({
        stage: 'intake',
        stageEnteredAt: T1,
        properties: { num_contacted_notes: '1', insurance_id: 'x' },
      }),
      leadTasks,
    );
    const decide = decideWith(lead, T1 + MIN);
    expect(dependsOnUnreadTasks(decide, moved, decide(moved))).toBe(false);
  });

  it('a gate that asks for a completed task depends on it', () => {
    const inIntake = reconcile({
      playbook,
      state: lead,
      snapshot: snap({
        stage: 'intake',
        stageEnteredAt: T1,
        properties: { num_contacted_notes: '1', insurance_id: 'x' },
      }),
      now: T1,
    }).state!;
    const T2 = T1 + 2 * HOUR;
    const intakeTasks = [`${INTAKE}:sla`, `${INTAKE}:task:consent`, `${INTAKE}:task:day1`];
    const moved = unread(
      snap({
        stage: 'review',
        stageEnteredAt: T2,
        properties: { num_contacted_notes: '1', insurance_id: 'x', intake_form_at: '1', docs_ok: 'true' },
      }),
      intakeTasks,
    );
    const decide = decideWith(inIntake, T2 + MIN);
    // Taken as open, consent blocks the move; completed, the move passes: the service must read.
    expect(dependsOnUnreadTasks(decide, moved, decide(moved))).toBe(true);
  });

  it('a new owner (open tasks are handed over) depends on them', () => {
    const handedOver = unread(snap({ ownerId: '102' }), leadTasks);
    const decide = decideWith(lead, MON_10 + 10 * MIN);
    expect(dependsOnUnreadTasks(decide, handedOver, decide(handedOver))).toBe(true);
  });

  it('nothing unread, nothing to decide again', () => {
    let calls = 0;
    const decide = (s: DealSnapshot) => {
      calls++;
      return reconcile({ playbook, state: lead, snapshot: s, now: MON_10 });
    };
    const s = snap();
    expect(dependsOnUnreadTasks(decide, s, decide(s))).toBe(false);
    expect(calls).toBe(1);
  });
});
