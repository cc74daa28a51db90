import { describe, expect, it } from 'vitest';
import type { Command } from '@stagekeeper/shared';
import { groupCommands } from './command-groups';

const create = (key: string, subject: string): Command => ({
  type: 'createTask',
  key,
  kind: 'action',
  subject,
  body: 'Confirm the intake appointment.',
  dueAt: 1_000,
  ownerId: '501',
  priority: 'HIGH',
  taskType: 'CALL',
});

describe('groupCommands', () => {
  it('keeps the first create and note of a key, and lets a cancel win over a complete', () => {
    const g = groupCommands([
      create('d:a', 'first'),
      create('d:a', 'second'),
      { type: 'completeTask', key: 'd:b' },
      { type: 'cancelTask', key: 'd:b', reason: 'visit ended' },
      { type: 'cancelTask', key: 'd:c', reason: 'visit ended' },
      { type: 'completeTask', key: 'd:c' },
      { type: 'addNote', key: 'd:n', body: 'one' },
      { type: 'addNote', key: 'd:n', body: 'two' },
    ]);
    expect([...g.creates.values()].map((c) => (c.type === 'createTask' ? c.subject : ''))).toEqual(['first']);
    expect(g.closes).toEqual(
      new Map([
        ['d:b', { reason: 'visit ended' }],
        ['d:c', { reason: 'visit ended' }],
      ]),
    );
    expect(g.notes).toEqual(new Map([['d:n', 'one']]));
  });

  it('drops the due-time move of a task the same commands close', () => {
    const g = groupCommands([
      { type: 'rescheduleTask', key: 'd:a', dueAt: 5 },
      { type: 'rescheduleTask', key: 'd:b', dueAt: 6 },
      { type: 'completeTask', key: 'd:a' },
    ]);
    expect(g.reschedules).toEqual(new Map([['d:b', 6]]));
  });

  it('merges every deal property write into one set, and leaves timers to the worker', () => {
    const g = groupCommands([
      { type: 'setProperties', properties: { stagekeeper_sla_status: 'at_risk' } },
      { type: 'moveStage', toStage: 'sk_intake', toPipeline: 'sk_care', reason: 'gate_revert' },
      { type: 'assignOwner', ownerId: '502', reason: 'round robin' },
      { type: 'cancelTimer', timerId: 'd:e:breach' },
    ]);
    expect(g.dealProps).toEqual({
      stagekeeper_sla_status: 'at_risk',
      dealstage: 'sk_intake',
      pipeline: 'sk_care',
      hubspot_owner_id: '502',
    });
    expect(g.creates.size + g.closes.size + g.reschedules.size + g.notes.size).toBe(0);
  });
});
