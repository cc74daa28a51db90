import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MIN, MON_10, withClocks } from './fixtures';
import { onTimer } from './on-timer';
import { reconcile } from './reconcile';
import type { DealSnapshot, DealState, EngineResult } from './types';

/**
 * Random property changes for the event clocks (support inquiries, answers, refill inputs, urgency) with timer
 * firings in between, replayed twice: clean, and with every read duplicated and every firing repeated. The noise
 * must change nothing, each run gets one task, and the timers left scheduled are exactly those the state holds.
 */

const playbook = withClocks();

const Op = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      type: fc.constant('snap' as const),
      gapMin: fc.integer({ min: 1, max: 600 }),
      inquiry: fc.boolean(),
      answer: fc.boolean(),
      refill: fc.constantFrom('keep', 'set', 'other', 'clear'),
      urgent: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      type: fc.constant('fire' as const),
      pick: fc.nat(),
      lateMin: fc.integer({ min: 0, max: 30 }),
    }),
  },
);
const Journey = fc.array(Op, { minLength: 1, maxLength: 30 });
type Ops = typeof Journey extends fc.Arbitrary<infer T> ? T : never;

function run(ops: Ops, noisy: boolean) {
  let state: DealState | null = null;
  let now = MON_10;
  const props: Record<string, string | null> = {};
  let last: DealSnapshot | null = null;
  const outstanding = new Map<
    string,
    { entryId: string; fireAt: number; kind: 'warning' | 'breach' | 'escalation'; level?: number }
  >();
  const creations = new Map<string, number>();

  const apply = (r: EngineResult) => {
    for (const c of r.commands) {
      if (c.type === 'scheduleTimer')
        outstanding.set(c.timerId, {
          entryId: c.entryId,
          fireAt: c.fireAt,
          kind: c.kind,
          ...(c.level !== undefined ? { level: c.level } : {}),
        });
      if (c.type === 'cancelTimer') outstanding.delete(c.timerId);
      if (c.type === 'createTask') creations.set(c.key, (creations.get(c.key) ?? 0) + 1);
    }
    state = r.state;
  };
  const expectNoop = (r: EngineResult, what: string) => {
    expect(r.commands, what).toEqual([]);
    expect(r.state, what).toEqual(state);
  };

  for (const op of ops) {
    if (op.type === 'snap') {
      now += op.gapMin * MIN;
      if (op.inquiry) props.support_inquiry_at = String(now - MIN);
      if (op.answer) props.support_responded_at = String(now);
      if (op.refill === 'set') props.refill_missing_input = 'weight_log';
      else if (op.refill === 'other') props.refill_missing_input = 'dose';
      else if (op.refill === 'clear') props.refill_missing_input = null;
      props.urgency = op.urgent ? 'urgent' : null;
      // The deal stays in one open stage; its own clock runs alongside the event clocks.
      const snapshot: DealSnapshot = {
        dealId: 'd1',
        exists: true,
        pipeline: 'tele',
        stage: 'intake',
        stageEnteredAt: MON_10,
        ownerId: '101',
        properties: { ...props },
        tasks: {},
      };
      apply(reconcile({ playbook, state, snapshot, now }));
      last = snapshot;
      if (noisy) expectNoop(reconcile({ playbook, state, snapshot, now: now + MIN }), 'duplicate read');
    } else {
      const ids = [...outstanding.keys()].sort();
      if (ids.length === 0 || !last) continue;
      const id = ids[op.pick % ids.length]!;
      const job = outstanding.get(id)!;
      now = Math.max(now, job.fireAt + op.lateMin * MIN);
      outstanding.delete(id);
      const timer = {
        timerId: id,
        kind: job.kind,
        entryId: job.entryId,
        ...(job.level !== undefined ? { level: job.level } : {}),
      };
      apply(onTimer({ playbook, state, snapshot: last, timer, now }));
      if (noisy)
        expectNoop(onTimer({ playbook, state, snapshot: last, timer, now: now + MIN }), 'repeated firing');
    }
  }
  return { state: state as DealState | null, outstanding, creations };
}

describe('event clocks replayed', () => {
  it('duplicate reads and repeated firings change nothing; timers and tasks stay one per run', () => {
    fc.assert(
      fc.property(Journey, (ops) => {
        const clean = run(ops, false);
        const noisy = run(ops, true);
        expect(noisy.state).toEqual(clean.state);
        expect([...noisy.creations.values()].every((n) => n === 1)).toBe(true);
        const held = [noisy.state?.current?.sla, ...(noisy.state?.clocks ?? []).map((r) => r.sla)].flatMap(
          (c) => (c?.timers ?? []).map((t) => [t.timerId, t.fireAt]),
        );
        const left = [...noisy.outstanding.entries()].map(([id, t]) => [id, t.fireAt]);
        expect(left.sort()).toEqual(held.sort());
        // A run that stopped holds no timers; at most one live run per clock.
        for (const r of noisy.state?.clocks ?? [])
          if (r.stoppedAt !== null) expect(r.sla.timers ?? []).toEqual([]);
        const ids = (noisy.state?.clocks ?? []).map((r) => r.clockId);
        expect(new Set(ids).size).toBe(ids.length);
      }),
      { numRuns: 300 },
    );
  });

  it('the journeys do run the clocks (the property above is not vacuous)', () => {
    const ops: Ops = [
      { type: 'snap', gapMin: 1, inquiry: false, answer: false, refill: 'keep', urgent: false },
      { type: 'snap', gapMin: 1, inquiry: true, answer: false, refill: 'set', urgent: false },
      { type: 'fire', pick: 0, lateMin: 0 },
    ];
    const { state, creations } = run(ops, true);
    expect(state!.clocks!.map((r) => r.clockId).sort()).toEqual(['refill_inputs', 'support_inquiry']);
    expect([...creations.keys()].filter((k) => k.includes(':clock.'))).toHaveLength(2);
  });
});
