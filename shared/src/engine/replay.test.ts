import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fixturePlaybook, MIN, MON_10 } from './fixtures';
import { onTimer } from './on-timer';
import { reconcile } from './reconcile';
import type { DealSnapshot, DealState, EngineResult } from './types';

/**
 * Replays random deal journeys through the fixture playbook twice: once in order, once with duplicated reads,
 * late stale reads and repeated timer firings mixed in. The noise must change nothing.
 */

const playbook = fixturePlaybook();
const STAGES = ['lead', 'intake', 'fix', 'review', 'won', 'lost', '(unmanaged)'] as const;

const SnapOp = fc.record({
  type: fc.constant('snap' as const),
  stage: fc.constantFrom(...STAGES),
  move: fc.boolean(),
  gapMin: fc.integer({ min: 1, max: 900 }),
  latencyMin: fc.integer({ min: 0, max: 180 }),
  owner: fc.constantFrom('101', '102', null),
  contacts: fc.constantFrom('0', '1', '3'),
  insurance: fc.boolean(),
  form: fc.boolean(),
  docs: fc.boolean(),
  waiting: fc.boolean(),
  completeTasks: fc.boolean(),
  // Raised or lowered during a visit: the conditional target is re-evaluated (engine/retarget.ts).
  urgent: fc.boolean(),
});
const FireOp = fc.record({
  type: fc.constant('fire' as const),
  pick: fc.nat(),
  lateMin: fc.integer({ min: 0, max: 60 }),
});
const Noise = fc.record({
  dup: fc.boolean(),
  stale: fc.option(fc.nat(), { nil: null }),
  refire: fc.boolean(),
});
const Journey = fc.array(
  fc.tuple(fc.oneof({ weight: 3, arbitrary: SnapOp }, { weight: 1, arbitrary: FireOp }), Noise),
  {
    minLength: 1,
    maxLength: 25,
  },
);
type Op = (typeof Journey extends fc.Arbitrary<infer T> ? T : never)[number];

type Outstanding = Map<
  string,
  { entryId: string; fireAt: number; kind: 'warning' | 'breach' | 'escalation'; level?: number }
>;

function run(ops: Op[], noisy: boolean) {
  let state: DealState | null = null;
  let clock = MON_10;
  let now = MON_10;
  let last: DealSnapshot | null = null;
  let maxSeen = -Infinity;
  const history: DealSnapshot[] = [];
  const slaTaskCreations = new Map<string, number>();
  const entriesWithSla = new Set<string>();
  const outstanding: Outstanding = new Map();

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
      if (c.type === 'createTask' && c.key.endsWith(':sla'))
        slaTaskCreations.set(c.key, (slaTaskCreations.get(c.key) ?? 0) + 1);
    }
    state = r.state;
    if (state?.current?.sla) entriesWithSla.add(state.current.entryId);
  };
  // Noise must be invisible: no commands, and the state exactly as before.
  const expectNoop = (r: EngineResult, what: string) => {
    expect(r.commands, what).toEqual([]);
    expect(r.state, what).toEqual(state);
  };

  for (const [op, noise] of ops) {
    if (op.type === 'snap') {
      clock += op.gapMin * MIN;
      const moved = op.move || last === null;
      const unmanaged = op.stage === '(unmanaged)';
      // `state` is reassigned inside apply(); TypeScript's narrowing cannot see that.
      const current = state as DealState | null;
      const entryTasks = current?.current?.tasks ?? [];
      const snapshot: DealSnapshot = {
        dealId: 'd1',
        exists: true,
        pipeline: moved ? (unmanaged ? 'elsewhere' : 'tele') : last!.pipeline,
        stage: moved ? (unmanaged ? 'parked' : op.stage) : last!.stage,
        stageEnteredAt: moved ? clock : last!.stageEnteredAt,
        ownerId: op.owner,
        properties: {
          num_contacted_notes: op.contacts,
          insurance_id: op.insurance ? 'on-file' : null,
          intake_form_at: op.form ? String(clock) : null,
          docs_ok: op.docs ? 'true' : null,
          waiting_on: op.waiting ? 'patient' : null,
          urgency: op.urgent ? 'urgent' : null,
        },
        tasks: op.completeTasks
          ? Object.fromEntries(entryTasks.map((t) => [t.key, 'COMPLETED' as const]))
          : {},
      };
      now = Math.max(now, clock + op.latencyMin * MIN);
      apply(reconcile({ playbook, state, snapshot, now }));
      last = snapshot;
      history.push(snapshot);
      maxSeen = Math.max(maxSeen, snapshot.stageEnteredAt!);
      if (noisy && noise.dup)
        expectNoop(reconcile({ playbook, state, snapshot, now: now + 7 * MIN }), 'duplicate read');
      if (noisy && noise.stale !== null) {
        const older = history.filter((h) => h.stageEnteredAt! < maxSeen);
        const pick = older[noise.stale % Math.max(1, older.length)];
        if (pick)
          expectNoop(reconcile({ playbook, state, snapshot: pick, now: now + 9 * MIN }), 'stale read');
      }
    } else {
      const ids = [...outstanding.keys()].sort();
      if (ids.length === 0 || !last) continue;
      const id = ids[op.pick % ids.length]!;
      const job = outstanding.get(id)!;
      now = Math.max(now, job.fireAt + op.lateMin * MIN);
      outstanding.delete(id); // the scheduler drops a job once it runs
      const timer = {
        timerId: id,
        kind: job.kind,
        entryId: job.entryId,
        ...(job.level !== undefined ? { level: job.level } : {}),
      };
      apply(onTimer({ playbook, state, snapshot: last, timer, now }));
      if (noisy && noise.refire)
        expectNoop(onTimer({ playbook, state, snapshot: last, timer, now: now + MIN }), 'repeated firing');
    }
  }
  return { state: state as DealState | null, slaTaskCreations, entriesWithSla, outstanding };
}

describe('replaying journeys', () => {
  it('duplicates, stale reads and repeated firings end where the clean run ends', () => {
    fc.assert(
      fc.property(Journey, (ops) => {
        const clean = run(ops, false);
        const noisy = run(ops, true);
        expect(noisy.state).toEqual(clean.state);

        // Exactly one SLA task per stage visit that had a clock, over the whole run.
        expect([...noisy.slaTaskCreations.values()].every((n) => n === 1)).toBe(true);
        expect([...noisy.slaTaskCreations.keys()].sort()).toEqual(
          [...noisy.entriesWithSla].map((id) => `${id}:sla`).sort(),
        );

        // Scheduled minus cancelled minus fired: only the current visit's timers, exactly those the state holds.
        const current = noisy.state?.current;
        const left = [...noisy.outstanding.entries()];
        expect(left.every(([, t]) => t.entryId === current?.entryId)).toBe(true);
        const held = (current?.sla?.timers ?? []).map((t) => [t.timerId, t.fireAt]);
        expect(left.map(([id, t]) => [id, t.fireAt]).sort()).toEqual(held.sort());
      }),
      { numRuns: 300 },
    );
  });
});
