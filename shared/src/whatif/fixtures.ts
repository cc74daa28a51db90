// Test support only: recorded visits produced by the real engine, for the what-if tests.
import { fixturePlaybook, MON_10, snap } from '../engine/fixtures';
import { onTimer } from '../engine/on-timer';
import { reconcile } from '../engine/reconcile';
import type { DealState, HistoryRow, TimerFiring } from '../engine/types';
import type { Playbook } from '../playbook/schema';

export const playbook = fixturePlaybook();

export type Scenario = {
  dealId: string;
  urgent: boolean;
  pauses: [number, number][];
  exitAt: number;
  enteredAt?: number;
  /** The stage visited ("lead" by default) and where the deal goes next ("intake" by default). */
  stage?: string;
  toStage?: string;
};

function firing(timerId: string, entryId: string): TimerFiring {
  const parts = timerId.split(':');
  const last = parts[parts.length - 1]!;
  if (last === 'warning' || last === 'breach') return { timerId, kind: last, entryId };
  return { timerId, kind: 'escalation', level: Number(last), entryId };
}

/**
 * Walks one deal through the fixture's "lead" stage with the engine (reconcile on each change, every timer fired at
 * its instant) and returns the history row it records on leaving, with the state just before the exit.
 */
export function driveLead(s: Scenario, pb: Playbook = playbook): { row: HistoryRow; before: DealState } {
  const enteredAt = s.enteredAt ?? MON_10;
  const props = (paused: boolean) => ({
    num_contacted_notes: '1',
    urgency: s.urgent ? 'urgent' : 'routine',
    ...(paused ? { waiting_on: 'patient' } : {}),
  });
  const at = (paused: boolean, over: Parameters<typeof snap>[0] = {}) =>
    snap({
      dealId: s.dealId,
      stage: s.stage ?? 'lead',
      stageEnteredAt: enteredAt,
      properties: props(paused),
      ...over,
    });
  let state = reconcile({ playbook: pb, state: null, snapshot: at(false), now: enteredAt }).state!;
  let paused = false;
  const runTimers = (until: number) => {
    for (;;) {
      const due = [...(state.current?.sla?.timers ?? [])].sort((a, b) => a.fireAt - b.fireAt)[0];
      if (!due || due.fireAt >= until) return;
      state = onTimer({
        playbook: pb,
        state,
        snapshot: at(paused),
        timer: firing(due.timerId, state.current!.entryId),
        now: due.fireAt,
      }).state!;
    }
  };
  const events = s.pauses
    .flatMap(([a, b]) => [[a, true] as const, [b, false] as const])
    .sort((x, y) => x[0] - y[0]);
  for (const [t, p] of events) {
    if (t >= s.exitAt) break;
    runTimers(t);
    paused = p;
    state = reconcile({ playbook: pb, state, snapshot: at(paused), now: t }).state!;
  }
  runTimers(s.exitAt);
  const before = structuredClone(state);
  const r = reconcile({
    playbook: pb,
    state,
    snapshot: at(paused, {
      stage: s.toStage ?? 'intake',
      stageEnteredAt: s.exitAt,
      properties: { ...props(paused), insurance_id: 'x' },
    }),
    now: s.exitAt,
  });
  const row = r.commands.flatMap((c) => (c.type === 'recordHistory' ? [c.row] : []))[0];
  if (!row)
    throw new Error(
      `deal ${s.dealId}: the move out of "${s.stage ?? 'lead'}" recorded no visit: ${r.decisions.map((d) => d.rule).join(', ')}`,
    );
  return { row, before };
}

/** A fixed-seed generator so failures reproduce. */
export function seeded(seed: number): () => number {
  let x = seed >>> 0;
  return () => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}
