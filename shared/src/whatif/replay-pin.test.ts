import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { HistoryRow } from '../engine/types';
import { criterionKey } from '../engine/visit-inputs';
import { findStage } from '../engine/lookup';
import { Playbook } from '../playbook/schema';
import { benchInput } from './bench-rows';
import { whatIf } from './compare';
import { planOf } from './plan';
import { seeded } from './fixtures';
import { replayVisit } from './replay-visit';

// The bench's own input at a small size: the telehealth playbook against its draft (a shorter first response, a
// holiday added) over four weeks that hold the November DST change and reach into Thanksgiving. The figures and
// digests below were taken before the replay was made faster, so a speed-up that changes any visit's outcome,
// due time, warning, level, task count or breach reason fails here.
const input = benchInput(3_000);
const digest = (x: unknown) => createHash('sha256').update(JSON.stringify(x)).digest('hex');
const eachVisit = (rows: readonly HistoryRow[], playbook: Playbook) => {
  const plan = planOf(playbook);
  return rows.map((row) => ({ ...replayVisit(row, plan) }));
};

describe('what-if replay output on a fixed input', () => {
  it('visits closed out (the bench rows as generated): cancelled or breached, as before', () => {
    const { rows, current, draft } = input;
    const report = whatIf(input);
    expect(report.totals.current).toMatchObject({ slaVisits: 1435, breached: 1435, warningsPerWeek: 385 });
    expect(report.totals.draft).toMatchObject({ slaVisits: 1417, breached: 1417, warningsPerWeek: 379.25 });
    expect(report.flipsTotal).toBe(18);
    expect(digest(report)).toBe('b5ebf49c7273edb160d7db0a0a9217a829c5817df8b417fb05d3320710e505c2');
    expect(digest(eachVisit(rows, current))).toBe(
      '643b77a8109fb30c336415bab19c1d2ed97232ed9c25cfb19d49de7a4d62022f',
    );
    expect(digest(eachVisit(rows, draft))).toBe(
      '19799a2b027b58d125a59585740c1609d35d9eea84aa787c471764ea0aa00f05',
    );
  });

  it('the same visits moved on to a next stage: met or breached, as before', () => {
    const rows = input.rows.map((r) => ({ ...r, toStage: r.stage }));
    const report = whatIf({ ...input, rows });
    expect(report.totals.current).toMatchObject({ slaVisits: 2662, breached: 1435, escalationsPerWeek: 593 });
    expect(report.totals.draft).toMatchObject({
      slaVisits: 2662,
      breached: 1417,
      escalationsPerWeek: 584.25,
    });
    expect(digest(report)).toBe('02b0dfdef40ede33c6abe2065c60099cd0ac2fdb7da6d38a83cb2d9591239db3');
    expect(digest(eachVisit(rows, input.current))).toBe(
      '6077f10528eceb9e674b7378483da0f300c040e791383612206aa62d770dcf34',
    );
    expect(digest(eachVisit(rows, input.draft))).toBe(
      '3e81cdc422f89874c775ee6363b07a579c4a7c75f19247895997205be63222b5',
    );
  });

  it('breach reasons over varied evidence: owner changes around the breach, membership, exit truths, manual reasons', () => {
    const HOUR = 3_600_000;
    const { current, draft } = input;
    // A draft whose roles are held by named owners only (no teams) and carry a capacity threshold, so "outside the
    // role" and "capacity" can be told; the bench's playbook holds every role by teams too.
    const byOwnersInput = structuredClone(draft) as unknown as Record<string, unknown> & typeof draft;
    byOwnersInput.roles = draft.roles.map((r) => ({ ...r, teams: [], capacity: { openTasks: 10 } }));
    const byOwners = Playbook.parse(byOwnersInput);
    const rand = seeded(18);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const rows: HistoryRow[] = input.rows.map((r) => {
      const changes = pick([
        [],
        [r.enteredAt + HOUR],
        [r.exitedAt - 60_000],
        [r.enteredAt + HOUR, r.exitedAt - 60_000],
      ]);
      const exitCriteria = findStage(current, r.stage)?.stage.exitCriteria ?? [];
      const held =
        rand() < 0.6 ? Object.fromEntries(exitCriteria.map((c) => [criterionKey(c), rand() < 0.5])) : {};
      const roleOwner = draft.roles.find((x) => x.id === r.ownerRole)?.owners[0] ?? '1';
      const outsideAtBreach = pick([true, false, undefined]);
      return {
        ...r,
        toStage: rand() < 0.5 ? null : r.stage,
        ownerId: pick([null, '999', roleOwner]),
        ...(rand() < 0.1 ? { breachReasonSource: 'manual' as const, breachReason: 'capacity' as const } : {}),
        ...(outsideAtBreach === undefined
          ? {}
          : {
              breachFacts: {
                ownerOpenTasks: null,
                capacityThreshold: null,
                unansweredAttempts: 0,
                missingData: 0,
                pendingActions: 0,
                ownerChanges: 0,
                noOwner: false,
                ownerOutsideRole: outsideAtBreach,
              },
            }),
        inputs: {
          ...r.inputs!,
          exit: { ...r.inputs!.exit!, held },
          evidence: {
            ownerChanges: changes.length,
            ...(rand() < 0.2 ? {} : { ownerChangesAt: changes }),
            noOwner: rand() < 0.15,
            unansweredAttempts: Math.floor(rand() * 5),
            ...(rand() < 0.3 ? {} : { ownerOpenTasks: pick([4, 12, 30]) }),
          },
        },
      };
    });
    const reasons = (pb: Playbook) => eachVisit(rows, pb).map((v) => v.breachReason);
    const tally = (xs: unknown[]) =>
      xs.reduce<Record<string, number>>((m, x) => ((m[String(x)] = (m[String(x)] ?? 0) + 1), m), {});
    expect({
      current: tally(reasons(current)),
      draft: tally(reasons(draft)),
      byOwners: tally(reasons(byOwners)),
    }).toEqual({
      current: {
        capacity: 210,
        handoff: 277,
        missing_data: 81,
        null: 1565,
        other: 235,
        patient_unreachable: 511,
        unknown: 121,
      },
      draft: {
        capacity: 208,
        handoff: 274,
        missing_data: 81,
        null: 1583,
        other: 227,
        patient_unreachable: 506,
        unknown: 121,
      },
      byOwners: {
        capacity: 249,
        handoff: 300,
        missing_data: 55,
        null: 1583,
        other: 213,
        patient_unreachable: 506,
        unknown: 94,
      },
    });
    expect(digest([reasons(current), reasons(draft), reasons(byOwners)])).toBe(
      'c8940b87635eb7d4d3b20478938b53c15f0e30b00d26f0068af0eea4f06f9e49',
    );
  });
});
