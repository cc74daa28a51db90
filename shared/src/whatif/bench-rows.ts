/**
 * The what-if bench's input, built in memory: the telehealth playbook in force, a draft of it, and `n` generated
 * visits over the 4 weeks before a fixed instant (fixed seed, so every run and the pinning test see the same rows).
 */
import type { HistoryRow } from '../engine/types';
import { criteriaKey } from '../engine/visit-inputs';
import { loadExamplePlaybook } from '../playbook/load-file';
import { Playbook } from '../playbook/schema';
import { WEEK_MS } from './compare';

export type BenchInput = {
  rows: HistoryRow[];
  current: Playbook;
  draft: Playbook;
  now: number;
  weeks: number;
  zone: string;
};

export function benchInput(n: number): BenchInput {
  const WEEKS = 4;
  const current = loadExamplePlaybook('telehealth');
  const zone = current.calendars[0]!.timeZone;
  const NOW = Date.parse('2026-11-23T05:00:00Z');

  // The draft: the two edits an intake lead asks about most, a slower first response and a clinic holiday.
  const draftInput = structuredClone(current) as unknown as Record<string, unknown> & typeof current;
  draftInput.version = current.version + 1;
  draftInput.pipelines[0]!.stages[0]!.sla!.target = '30m';
  draftInput.calendars[0]!.holidays = [...draftInput.calendars[0]!.holidays, { date: '2026-11-11' }];
  const draft = Playbook.parse(draftInput);

  let seed = 42;
  const rand = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const stages = current.pipelines.flatMap((pl) =>
    pl.stages
      .filter((s) => !s.closed)
      .map((st) => ({ pl, st, pauseKey: criteriaKey(st.sla?.pauseWhen ?? []) })),
  );
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;

  const rows: HistoryRow[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const { pl, st, pauseKey } = pick(stages);
    const enteredAt = NOW - WEEKS * WEEK_MS + Math.floor(rand() * (WEEKS * WEEK_MS - 3 * 86_400_000));
    const exitedAt = enteredAt + Math.floor(rand() * 3 * 86_400_000);
    const pauses: [number, number][] = [];
    if (st.sla?.pauseWhen.length && rand() < 0.3) {
      const a = enteredAt + Math.floor(rand() * (exitedAt - enteredAt));
      pauses.push([a, Math.min(exitedAt, a + Math.floor(rand() * 8 * 3_600_000))]);
    }
    const props = {
      urgency: rand() < 0.2 ? 'urgent' : 'routine',
      clinical_risk_level: pick(['low', 'medium', 'high', null]),
      waiting_on: null,
    };
    rows[i] = {
      dealId: String(1e9 + i),
      pipeline: pl.id,
      stage: st.id,
      ownerRole: st.ownerRole,
      ownerId: '101',
      enteredAt,
      exitedAt,
      businessMs: exitedAt - enteredAt,
      toStage: null,
      direction: 'forward',
      slaOutcome: 'met',
      breachReason: null,
      inputs: {
        entry: { props, held: {} },
        exit: { props, held: {} },
        pauses,
        pauseKey,
        evidence: {
          ownerChanges: 0,
          ownerChangesAt: [],
          noOwner: false,
          unansweredAttempts: Math.floor(rand() * 3),
        },
      },
    };
  }
  return { rows, current, draft, now: NOW, weeks: WEEKS, zone };
}
