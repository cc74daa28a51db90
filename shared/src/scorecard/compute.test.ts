import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { HistoryRow } from '../engine/types';
import { BREACH_REASONS, Playbook } from '../playbook/schema';
import type { ClassedRows } from './classed-rows';
import { computeScorecard, startScorecard } from './compute';
import { scorecardPlaybook, visit } from './fixtures';
import { computeFunnel } from './funnel';
import { quickselect } from './stats';
import type { ScorecardMetrics } from './types';
import { weekRange } from './week';

const playbook = scorecardPlaybook();
const WEEK = '2026-W47';
const { start, end } = weekRange(WEEK, 'America/New_York');
const H = 3600_000;
const inWeek = (hours: number) => start + hours * H;

describe('computeScorecard: hand-checked weeks', () => {
  it('takes the middle value for an odd count and the mean of the middle two for an even count', () => {
    const odd = computeScorecard({
      playbook,
      week: WEEK,
      rows: [5, 1, 3].map((h) => visit({ exitedAt: inWeek(10), businessMs: h * H })),
    });
    expect(odd.byStage[0]!.medianTimeInStageMs).toBe(3 * H);
    const even = computeScorecard({
      playbook,
      week: WEEK,
      rows: [4, 1, 10, 2].map((h) => visit({ exitedAt: inWeek(10), businessMs: h * H })),
    });
    expect(even.byStage[0]!.medianTimeInStageMs).toBe(3 * H);
    // Nearest rank: ceil(0.9 * 4) = 4th smallest.
    expect(even.byStage[0]!.p90TimeInStageMs).toBe(10 * H);
  });

  it('counts conversion as any forward move (skipped stages too) and backflow over all visits, exits included', () => {
    const rows = [
      visit({ exitedAt: inWeek(1), toStage: 's2', direction: 'forward' }),
      visit({ exitedAt: inWeek(2), toStage: 's4', direction: 'forward' }), // skips s2 and s3: still a conversion
      visit({ exitedAt: inWeek(3), stage: 's2', toStage: 's1', direction: 'backward' }),
      visit({ exitedAt: inWeek(4), toStage: null, direction: 'exit' }), // deal deleted: volume only
    ];
    const card = computeScorecard({ rows, playbook, week: WEEK });
    const s1 = card.byStage.find((r) => r.stage.id === 's1')!;
    expect(s1).toMatchObject({ volume: 3, conversionRate: 2 / 3, backflowRate: 0 });
    const s2 = card.byStage.find((r) => r.stage.id === 's2')!;
    expect(s2).toMatchObject({ volume: 1, conversionRate: 0, backflowRate: 1 });
    expect(card.byRole).toEqual([
      expect.objectContaining({ role: { id: 'intake', name: 'Intake coordinator' }, volume: 4 }),
    ]);
    expect(card.totals).toMatchObject({ volume: 4, conversionRate: 0.5, backflowRate: 0.25 });
  });

  it('rates breaches over visits with an SLA only, and lists at most three reasons by count then name', () => {
    const breached = (breachReason: HistoryRow['breachReason']) =>
      visit({ exitedAt: inWeek(5), slaOutcome: 'breached', breachReason });
    const rows = [
      breached('patient_unreachable'),
      breached('capacity'),
      breached('capacity'),
      breached('handoff'),
      breached('missing_data'),
      breached(null), // breached before a reason was known: counts as a breach, lists no reason
      visit({ exitedAt: inWeek(5), slaOutcome: 'met' }),
      visit({ exitedAt: inWeek(5), slaOutcome: 'met' }),
      visit({ exitedAt: inWeek(5), slaOutcome: 'none' }),
      visit({ exitedAt: inWeek(5), slaOutcome: 'cancelled' }),
    ];
    const s1 = computeScorecard({ rows, playbook, week: WEEK }).byStage[0]!;
    expect(s1).toMatchObject({ volume: 10, slaVisits: 8, breached: 6, breachRate: 6 / 8 });
    expect(s1.topBreachReasons).toEqual([
      { reason: 'capacity', count: 2 },
      { reason: 'handoff', count: 1 },
      { reason: 'missing_data', count: 1 },
    ]);
  });

  it('follows playbook order for stages and roles, omits empty rows, and keeps unknown stages and roles at the end', () => {
    const rows = [
      visit({ exitedAt: inWeek(1), pipeline: 'p2', stage: 'r1', ownerRole: 'clinical' }),
      visit({ exitedAt: inWeek(1), pipeline: 'p1', stage: 'gone', ownerRole: 'retired_role' }),
      visit({ exitedAt: inWeek(1), pipeline: 'p1', stage: 's3', ownerRole: 'clinical' }),
      visit({ exitedAt: inWeek(1), pipeline: 'p1', stage: 's1', ownerRole: 'intake' }),
    ];
    const card = computeScorecard({ rows, playbook, week: WEEK });
    expect(card.byStage.map((r) => `${r.pipeline.label}/${r.stage.label}`)).toEqual([
      'Telehealth intake/New referral',
      'Telehealth intake/Clinical review',
      'Referrals/Referral received',
      'Telehealth intake/gone',
    ]);
    expect(card.byRole.map((r) => r.role.name)).toEqual([
      'Intake coordinator',
      'Clinical ops',
      'retired_role',
    ]);
  });

  it('takes visits that exited in [local Monday 00:00, next local Monday 00:00) and nothing else', () => {
    const rows = [
      visit({ exitedAt: start - 1 }),
      visit({ exitedAt: start, businessMs: 1 }),
      visit({ exitedAt: end - 1, businessMs: 2 }),
      visit({ exitedAt: end }),
    ];
    const card = computeScorecard({ rows, playbook, week: WEEK });
    expect(card.totals.volume).toBe(2);
    expect(card.totals.medianTimeInStageMs).toBe(1.5);
  });

  it('returns the §4.7 header and empty lists for a week without visits', () => {
    const card = computeScorecard({ rows: [], playbook, week: WEEK, availableWeeks: ['2026-W46'] });
    expect(card).toMatchObject({
      week: WEEK,
      weekStart: '2026-11-16',
      weekEnd: '2026-11-22',
      timeZone: 'America/New_York',
      availableWeeks: ['2026-W46'],
      byStage: [],
      byRole: [],
    });
    expect(card.totals).toMatchObject({
      volume: 0,
      medianTimeInStageMs: null,
      breachRate: null,
      conversionRate: null,
    });
  });

  it('cuts the week in the zone it is given instead of the playbook zone', () => {
    const mondayMorningUtc = Date.parse('2026-11-16T02:00:00Z'); // still Sunday (W46) in New York
    const rows = [visit({ exitedAt: mondayMorningUtc })];
    expect(computeScorecard({ rows, playbook, week: WEEK }).totals.volume).toBe(0);
    expect(computeScorecard({ rows, playbook, week: WEEK, zone: 'UTC' }).totals.volume).toBe(1);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Against a brute-force recomputation straight from the §4.7 wording.

function oracle(rows: HistoryRow[]): ScorecardMetrics {
  const cohort = rows.filter((r) => r.exitedAt >= start && r.exitedAt < end);
  const sorted = cohort.map((r) => r.businessMs).sort((a, b) => a - b);
  const n = sorted.length;
  const sla = cohort.filter((r) => r.slaOutcome === 'met' || r.slaOutcome === 'breached');
  const breached = cohort.filter((r) => r.slaOutcome === 'breached');
  const counts = new Map<string, number>();
  for (const r of breached)
    if (r.breachReason) counts.set(r.breachReason, (counts.get(r.breachReason) ?? 0) + 1);
  return {
    volume: n,
    medianTimeInStageMs:
      n === 0 ? null : n % 2 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2,
    p90TimeInStageMs: n === 0 ? null : sorted[Math.ceil(0.9 * n) - 1]!,
    slaVisits: sla.length,
    breached: breached.length,
    breachRate: sla.length ? breached.length / sla.length : null,
    conversionRate: n
      ? cohort.filter((r) => r.direction === 'forward' && r.toStage !== 's5').length / n
      : null,
    backflowRate: n
      ? cohort.filter(
          (r) =>
            r.direction === 'backward' && r.toStage !== 's5' && !(r.stage === 's3' && r.toStage === 's2'),
        ).length / n
      : null,
    droppedOff: cohort.filter((r) => r.toStage === 's5').length,
    dropOffRate: n ? cohort.filter((r) => r.toStage === 's5').length / n : null,
    inStage: 0,
    medianAgeMs: null,
    maxAgeMs: null,
    openBreached: 0,
    reasonCorrections: cohort.filter((r) => r.slaOutcome === 'breached' && (r.corrections?.length ?? 0) > 0)
      .length,
    topBreachReasons: [...counts]
      .map(([reason, count]) => ({ reason: reason as HistoryRow['breachReason'] & string, count }))
      .sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason))
      .slice(0, 3),
  };
}

const stageChoices = [
  ['p1', 's1', 'intake'],
  ['p1', 's2', 'intake'],
  ['p1', 's3', 'clinical'],
  ['p2', 'r1', 'clinical'],
  ['p1', 'old_stage', 'old_role'],
] as const;

const rowArb = fc
  .record({
    where: fc.constantFrom(...stageChoices),
    otherRole: fc.boolean(),
    // Around the week, so boundary and outside rows are common.
    exitedAt: fc.integer({ min: start - 2 * 24 * H, max: end + 2 * 24 * H }),
    // Few distinct values so ties (the hard case for selection) happen.
    businessMs: fc.oneof(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 200 * H })),
    direction: fc.constantFrom('forward', 'backward', 'exit'),
    toStage: fc.constantFrom('s1', 's2', 's4', 's5', null),
    corrected: fc.boolean(),
    slaOutcome: fc.constantFrom('met', 'breached', 'none', 'cancelled'),
    breachReason: fc.option(fc.constantFrom(...BREACH_REASONS)),
  })
  .map(({ where, otherRole, corrected, ...r }) =>
    visit({
      ...r,
      ...(corrected
        ? { corrections: [{ at: 0, userId: '1', from: 'other' as const, to: 'capacity' as const }] }
        : {}),
      pipeline: where[0],
      stage: where[1],
      ownerRole: otherRole ? 'clinical' : where[2],
      breachReason: r.slaOutcome === 'breached' ? r.breachReason : null,
    }),
  );

describe('computeScorecard: stuck work, drop-off and loops (seed 000 weekly review, 001 loops)', () => {
  it('counts deals still in stages and breached in place, keeps closed-lost apart from conversion, loops out of backflow', () => {
    const rows = [
      // s1: two conversions and one drop-off into the closed-lost "Not qualified" stage.
      visit({ exitedAt: inWeek(1), toStage: 's2', direction: 'forward', slaOutcome: 'met' }),
      visit({ exitedAt: inWeek(2), toStage: 's3', direction: 'forward', slaOutcome: 'met' }),
      visit({
        exitedAt: inWeek(3),
        toStage: 's5',
        direction: 'forward',
        slaOutcome: 'breached',
        breachReason: 'patient_unreachable',
      }),
      // s3: back to s2 along the declared loop (not backflow), and back to s1 (backflow).
      visit({
        exitedAt: inWeek(4),
        stage: 's3',
        ownerRole: 'clinical',
        toStage: 's2',
        direction: 'backward',
      }),
      visit({
        exitedAt: inWeek(5),
        stage: 's3',
        ownerRole: 'clinical',
        toStage: 's1',
        direction: 'backward',
      }),
    ];
    const now = inWeek(100);
    const open = [
      // Two deals sit in s1, one breached in place 10 hours ago; one entered after the week is not counted.
      {
        pipeline: 'p1',
        stage: 's1',
        ownerRole: 'intake',
        enteredAt: inWeek(50),
        hasSla: true,
        breachedAt: inWeek(90),
        breachReason: 'capacity' as const,
      },
      {
        pipeline: 'p1',
        stage: 's1',
        ownerRole: 'intake',
        enteredAt: inWeek(80),
        hasSla: true,
        breachedAt: null,
      },
      {
        pipeline: 'p1',
        stage: 's1',
        ownerRole: 'intake',
        enteredAt: end + H,
        hasSla: true,
        breachedAt: null,
      },
      // A deal in s2 with no visit ended this week still gives s2 a row.
      {
        pipeline: 'p1',
        stage: 's2',
        ownerRole: 'intake',
        enteredAt: inWeek(10),
        hasSla: false,
        breachedAt: null,
      },
    ];
    const card = computeScorecard({ rows, playbook, week: WEEK, open, now });
    const s1 = card.byStage.find((r) => r.stage.id === 's1')!;
    expect(s1).toMatchObject({
      volume: 3,
      conversionRate: 2 / 3,
      droppedOff: 1,
      dropOffRate: 1 / 3,
      inStage: 2,
      medianAgeMs: 35 * H,
      maxAgeMs: 50 * H,
      openBreached: 1,
      // 1 ended breached + 1 breached in place, over 3 ended with an SLA + 2 open with an SLA.
      breached: 2,
      slaVisits: 5,
      breachRate: 2 / 5,
    });
    expect(s1.topBreachReasons).toEqual([
      { reason: 'capacity', count: 1 },
      { reason: 'patient_unreachable', count: 1 },
    ]);
    const s3 = card.byStage.find((r) => r.stage.id === 's3')!;
    expect(s3).toMatchObject({ volume: 2, backflowRate: 1 / 2, conversionRate: 0 });
    expect(card.byStage.find((r) => r.stage.id === 's2')).toMatchObject({
      volume: 0,
      inStage: 1,
      medianAgeMs: 90 * H,
    });
    expect(card.totals).toMatchObject({ inStage: 3, openBreached: 1, droppedOff: 1 });
    // Without the open visits the stuck deal would not count at all: the old blind spot.
    expect(
      computeScorecard({ rows, playbook, week: WEEK }).byStage.find((r) => r.stage.id === 's1'),
    ).toMatchObject({ breached: 1, inStage: 0 });
  });
});

describe('computeScorecard: cuts by declared dimensions (seed 002 lead type and channel, 004 partner)', () => {
  it("groups the week's visits by each declared property's recorded value, visits without one apart", () => {
    const pb = scorecardPlaybook();
    pb.scorecard = {
      dimensions: [
        { property: 'referrer_ods_code', label: 'Partner' },
        { property: 'urgency', label: 'Urgency' },
      ],
    };
    const rows = [
      visit({
        exitedAt: inWeek(1),
        slaOutcome: 'breached',
        breachReason: 'capacity',
        dims: { referrer_ods_code: 'A81001', urgency: 'urgent' },
      }),
      visit({ exitedAt: inWeek(2), slaOutcome: 'met', dims: { referrer_ods_code: 'A81001' } }),
      visit({
        exitedAt: inWeek(3),
        slaOutcome: 'met',
        dims: { referrer_ods_code: 'B82002', urgency: 'routine' },
      }),
      visit({ exitedAt: inWeek(4), slaOutcome: 'met' }),
      visit({ exitedAt: end + H, dims: { referrer_ods_code: 'A81001' } }), // outside the week
    ];
    const card = computeScorecard({ rows, playbook: pb, week: WEEK });
    const partner = card.byDimension!.filter((r) => r.dimension.property === 'referrer_ods_code');
    expect(partner.map((r) => [r.value, r.volume, r.breached, r.breachRate])).toEqual([
      ['A81001', 2, 1, 0.5],
      ['B82002', 1, 0, 0],
      ['(none)', 1, 0, 0],
    ]);
    const urgency = card.byDimension!.filter((r) => r.dimension.label === 'Urgency');
    expect(urgency.map((r) => [r.value, r.volume])).toEqual([
      ['routine', 1],
      ['urgent', 1],
      ['(none)', 2],
    ]);
    expect(computeScorecard({ rows, playbook, week: WEEK }).byDimension).toBeUndefined();
  });
});

describe('computeScorecard: property against a brute-force recomputation', () => {
  it('matches per stage, per role and in total on random visits', () => {
    fc.assert(
      fc.property(fc.array(rowArb, { maxLength: 300 }), (rows) => {
        const card = computeScorecard({ rows, playbook, week: WEEK });
        for (const row of card.byStage) {
          const { pipeline, stage, ...metrics } = row;
          expect(metrics).toEqual(
            oracle(rows.filter((r) => r.pipeline === pipeline.id && r.stage === stage.id)),
          );
        }
        for (const row of card.byRole) {
          const { role, ...metrics } = row;
          expect(metrics).toEqual(oracle(rows.filter((r) => r.ownerRole === role.id)));
        }
        expect(card.totals).toEqual(oracle(rows));
        // Every visit of the week lands in exactly one stage row and one role row.
        const volume = card.totals.volume;
        expect(card.byStage.reduce((s, r) => s + r.volume, 0)).toBe(volume);
        expect(card.byRole.reduce((s, r) => s + r.volume, 0)).toBe(volume);
      }),
      { numRuns: 300 },
    );
  });

  it('quickselect puts the k-th smallest at k with smaller before and larger after, on large inputs too', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 3000 }),
        fc.nat(),
        (xs, kSeed) => {
          const a = Float64Array.from(xs);
          const k = kSeed % a.length;
          quickselect(a, k);
          const sorted = [...xs].sort((x, y) => x - y);
          expect(a[k]).toBe(sorted[k]);
          for (let i = 0; i < k; i++) expect(a[i]!).toBeLessThanOrEqual(a[k]!);
          for (let i = k + 1; i < a.length; i++) expect(a[i]!).toBeGreaterThanOrEqual(a[k]!);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('startScorecard: rows folded a batch at a time', () => {
  // Dimensions, an intake funnel with re-referral and clock runs: every part of the card a batch could split.
  const full = Playbook.parse({
    ...scorecardPlaybook(),
    scorecard: {
      dimensions: [{ property: 'referrer', label: 'Referring partner' }],
      funnel: { received: 's1', incomplete: ['s2'], booked: ['s3'], partner: 'referrer' },
    },
  });
  const batchedRowArb = fc
    .record({
      row: rowArb,
      referrer: fc.option(fc.constantFrom('a', 'b', 'c')),
      clock: fc.option(fc.constantFrom('first_touch', 'gone_clock'), { freq: 5 }),
      deal: fc.integer({ min: 1, max: 8 }),
      enteredBefore: fc.integer({ min: 0, max: 40 * 24 * H }),
    })
    .map(({ row, referrer, clock, deal, enteredBefore }) => ({
      ...row,
      dealId: String(deal),
      enteredAt: row.exitedAt - enteredBefore,
      ...(referrer ? { dims: { referrer } } : {}),
      ...(clock ? { clock } : {}),
    }));

  it('gives computeScorecard over the same rows, however they are cut into batches', () => {
    fc.assert(
      fc.property(
        fc.array(batchedRowArb, { maxLength: 200 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        fc.integer({ min: start, max: end + 60 * 24 * H }),
        (rows, cutSeeds, now) => {
          const cuts = [...new Set(cutSeeds.map((c) => c % (rows.length + 1)))].sort((a, b) => a - b);
          const fold = startScorecard({ playbook: full, week: WEEK, now });
          let from = 0;
          for (const cut of [...cuts, rows.length]) {
            fold.add(rows.slice(from, cut));
            from = cut;
          }
          const card = fold.result();
          expect(card).toEqual(computeScorecard({ rows, playbook: full, week: WEEK, now }));
          // The fold keeps only the rows the funnel reads (funnelKeeps): the funnel over all of them is the same.
          expect(card.funnel).toEqual(computeFunnel(full, rows, start, end, now));
        },
      ),
      { numRuns: 300 },
    );
  });

  /** `rows` as the history store hands over a chunk read from its columns: classes and per-row values. */
  const classed = (rows: HistoryRow[], exits?: { from: number; to: number }): ClassedRows => {
    const classes: HistoryRow[] = [];
    const index = new Map<string, number>();
    const classOf = new Uint32Array(rows.length);
    rows.forEach((r, i) => {
      const template = { ...r, dealId: '', enteredAt: 0, exitedAt: 0, businessMs: 0, breachedAt: undefined };
      const key = JSON.stringify(template);
      if (!index.has(key)) index.set(key, classes.push(template) - 1);
      classOf[i] = index.get(key)!;
    });
    return {
      classes,
      size: rows.length,
      classOf,
      exitedAt: Float64Array.from(rows, (r) => r.exitedAt),
      businessMs: Float64Array.from(rows, (r) => r.businessMs),
      exits,
      row: (i) => ({ ...rows[i]! }),
    };
  };

  it('gives computeScorecard over the same rows fed as columns (ClassedRows), alone or among row batches', () => {
    // Without a funnel the columns are folded class by class; with one, their rows are made whole.
    const noFunnel = Playbook.parse({ ...full, scorecard: { dimensions: full.scorecard!.dimensions } });
    fc.assert(
      fc.property(
        // Rows that share their class (all but deal and times) with others, as most of a week's rows do.
        fc
          .tuple(
            fc.array(batchedRowArb, { minLength: 1, maxLength: 12 }),
            fc.array(
              fc.record({
                pick: fc.nat(),
                exitedAt: fc.integer({ min: start - 2 * 24 * H, max: end + 2 * 24 * H }),
                businessMs: fc.integer({ min: 0, max: 200 * H }),
                deal: fc.integer({ min: 1, max: 8 }),
              }),
              { maxLength: 200 },
            ),
          )
          .map(([pool, picks]) =>
            picks.map(({ pick, deal, ...times }) => ({
              ...pool[pick % pool.length]!,
              ...times,
              dealId: String(deal),
            })),
          ),
        fc.array(fc.nat(), { maxLength: 6 }),
        fc.option(fc.tuple(fc.integer({ min: start - 2 * 24 * H, max: end }), fc.nat(9 * 24 * H))),
        fc.integer({ min: start, max: end + 60 * 24 * H }),
        fc.boolean(),
        (rows, cutSeeds, range, now, funnel) => {
          const playbook = funnel ? full : noFunnel;
          const exits = range ? { from: range[0], to: range[0] + range[1] } : undefined;
          const kept = exits ? rows.filter((r) => r.exitedAt >= exits.from && r.exitedAt < exits.to) : rows;
          const cuts = [...new Set(cutSeeds.map((c) => c % (rows.length + 1)))].sort((a, b) => a - b);
          const fold = startScorecard({ playbook, week: WEEK, now });
          let from = 0;
          for (const [k, cut] of [...cuts, rows.length].entries()) {
            const part = rows.slice(from, cut);
            // Every other batch as plain rows (a chunk read from its text), already cut to the range.
            fold.add(k % 2 === 0 ? classed(part, exits) : part.filter((r) => kept.includes(r)));
            from = cut;
          }
          expect(fold.result()).toEqual(computeScorecard({ rows: kept, playbook, week: WEEK, now }));
        },
      ),
      { numRuns: 300 },
    );
  });
});
