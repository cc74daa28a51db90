import { describe, expect, it } from 'vitest';
import { P } from '../properties';
import { fixturePlaybook, HOUR, MON_10, only, rules, snap, written } from './fixtures';
import { reconcile } from './reconcile';

// HubSpot restores a deleted deal as it was (object.restore); engine/restore.ts takes it up again.
const playbook = fixturePlaybook();
const ID = `d1:lead:${MON_10}`;
const entered = reconcile({ playbook, state: null, snapshot: snap(), now: MON_10 }).state!;
const deleted = reconcile({
  playbook,
  state: entered,
  snapshot: snap({ exists: false }),
  now: MON_10 + HOUR,
}).state!;

describe('a deleted deal HubSpot restores (engine/restore.ts)', () => {
  it('takes its visit up again from the stage entry: clock, tasks, timers and properties', () => {
    expect(deleted.closedReason).toBe('deleted');
    const r = reconcile({ playbook, state: deleted, snapshot: snap(), now: MON_10 + 2 * HOUR });
    expect(rules(r)).toEqual(expect.arrayContaining(['deal.restored', 'deal.first_seen', 'entry']));
    expect(r.state).toMatchObject({ closedReason: null, current: { entryId: ID, enteredAt: MON_10 } });
    expect(r.state!.current!.sla).toMatchObject({ status: 'running', dueAt: entered.current!.sla!.dueAt });
    // The same keys as before the deletion: the gateway reopens the tasks it cancelled.
    expect(only(r, 'createTask').map((c) => c.key)).toEqual(entered.current!.tasks.map((t) => t.key));
    expect(only(r, 'scheduleTimer').length).toBeGreaterThan(0);
    expect(written(r)).toMatchObject({ [P.slaStatus]: 'running', [P.gateStatus]: 'clear' });
    expect(r.state!.trail?.some((t) => t.rule === 'deal.restored')).toBe(true);
  });

  it('keeps what the deal had been through: counters and the latest breach', () => {
    const history = { ...deleted, breachCount: 2, backflowCount: 1, lastBreachEntryId: 'd1:intake:1' };
    const r = reconcile({ playbook, state: history, snapshot: snap(), now: MON_10 + 2 * HOUR });
    expect(r.state).toMatchObject({ breachCount: 2, backflowCount: 1, lastBreachEntryId: 'd1:intake:1' });
  });

  it('stays closed while HubSpot has it deleted, and a merged-away deal is never taken up', () => {
    const still = reconcile({
      playbook,
      state: deleted,
      snapshot: snap({ exists: false }),
      now: MON_10 + 2 * HOUR,
    });
    expect(rules(still)).toEqual(['deal.gone']);
    const merged = { ...deleted, closedReason: 'merged' as const };
    const r = reconcile({ playbook, state: merged, snapshot: snap(), now: MON_10 + 2 * HOUR });
    expect(rules(r)).toEqual(['deal.gone']);
    expect(r.commands).toEqual([]);
  });
});
