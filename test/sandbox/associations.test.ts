import { describe, expect, it } from 'vitest';
import { AssociationStore } from './associations';

const TASK_TO_DEAL = { typeId: 216, inverse: 215 };
const ids = (s: AssociationStore, from: 'deals' | 'tasks', id: string, to: 'deals' | 'tasks') =>
  s.ids(from, id, to);

describe('sandbox association store', () => {
  it('shows an association from both sides, once however often it is added, ordered by target id', () => {
    const s = new AssociationStore();
    for (const t of ['30', '4', '200'])
      s.add('tasks', t, 'deals', '7', TASK_TO_DEAL.typeId, TASK_TO_DEAL.inverse);
    s.add('tasks', '4', 'deals', '7', TASK_TO_DEAL.typeId, TASK_TO_DEAL.inverse);
    expect(ids(s, 'deals', '7', 'tasks')).toEqual(['4', '30', '200']);
    expect(s.list('tasks', '4', 'deals')).toEqual([
      { toObjectId: 7, associationTypes: [{ category: 'HUBSPOT_DEFINED', typeId: 216, label: null }] },
    ]);
    expect(s.list('deals', '7', 'tasks')[0]!.associationTypes[0]!.typeId).toBe(215);
    expect(ids(s, 'deals', '8', 'tasks')).toEqual([]);
  });

  it('removes both sides of an association', () => {
    const s = new AssociationStore();
    s.add('tasks', '1', 'deals', '7', TASK_TO_DEAL.typeId, TASK_TO_DEAL.inverse);
    s.add('tasks', '2', 'deals', '7', TASK_TO_DEAL.typeId, TASK_TO_DEAL.inverse);
    s.remove('deals', '7', 'tasks', '1');
    expect(ids(s, 'deals', '7', 'tasks')).toEqual(['2']);
    expect(ids(s, 'tasks', '1', 'deals')).toEqual([]);
  });

  it('moves a merged-away deal’s associations to the survivor, from both sides, without doubling any', () => {
    const s = new AssociationStore();
    s.add('tasks', '1', 'deals', '7', TASK_TO_DEAL.typeId, TASK_TO_DEAL.inverse);
    s.add('tasks', '2', 'deals', '7', TASK_TO_DEAL.typeId, TASK_TO_DEAL.inverse);
    s.add('tasks', '2', 'deals', '9', TASK_TO_DEAL.typeId, TASK_TO_DEAL.inverse);
    s.rehome('deals', '7', '9');
    expect(ids(s, 'deals', '9', 'tasks')).toEqual(['1', '2']);
    expect(ids(s, 'deals', '7', 'tasks')).toEqual([]);
    expect(ids(s, 'tasks', '1', 'deals')).toEqual(['9']);
    expect(s.list('tasks', '2', 'deals')).toEqual([
      { toObjectId: 9, associationTypes: [{ category: 'HUBSPOT_DEFINED', typeId: 216, label: null }] },
    ]);
  });

  it('answers one object’s list in what that object holds, not what the portal holds', () => {
    // 20,000 tasks on 10,000 deals, as after the bulk bench's set-up: a list or an add must not visit them all.
    // Counted by the Map reads of the store, not timed: a flat list visits every record.
    const s = new AssociationStore();
    for (let d = 0; d < 10_000; d++)
      for (const k of [0, 1])
        s.add(
          'tasks',
          String(100_000 + d * 2 + k),
          'deals',
          String(d),
          TASK_TO_DEAL.typeId,
          TASK_TO_DEAL.inverse,
        );
    const seen = countIterations(() => ids(s, 'deals', '5000', 'tasks'));
    expect(ids(s, 'deals', '5000', 'tasks')).toEqual(['110000', '110001']);
    expect(seen).toBeLessThan(50);
  });
});

/** Entries an array or map iterator yields while `fn` runs (a flat scan of the store yields every record). */
function countIterations(fn: () => unknown): number {
  let n = 0;
  const protos = [Object.getPrototypeOf([][Symbol.iterator]()), Object.getPrototypeOf(new Map().entries())];
  const saved = protos.map((p) => p.next as (...a: unknown[]) => unknown);
  protos.forEach((p, i) => {
    p.next = function (this: unknown, ...a: unknown[]) {
      n++;
      return saved[i]!.apply(this, a);
    };
  });
  try {
    fn();
  } finally {
    protos.forEach((p, i) => (p.next = saved[i]));
  }
  return n;
}
