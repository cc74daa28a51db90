import { describe, expect, it } from 'vitest';
import { addBusinessTime, businessTimeBetween, compileCalendar } from '../clock';
import { fixtureInput, fixturePlaybook, HOUR, MIN, MON_10, snap } from '../engine/fixtures';
import { onTimer } from '../engine/on-timer';
import { reconcile } from '../engine/reconcile';
import type { HistoryRow } from '../engine/types';
import { Playbook, type PlaybookInput } from '../playbook/schema';
import { whatIf } from './compare';
import { driveLead, playbook, seeded, type Scenario } from './fixtures';
import { formatWhatIf } from './format';
import { planOf } from './plan';
import { replayVisit } from './replay-visit';
import { MAX_PAUSE_INTERVALS } from '../engine/visit-inputs';

const draftOf = (edit: (p: PlaybookInput) => void): Playbook => {
  const input = fixtureInput();
  edit(input);
  input.version = 2;
  return Playbook.parse(input);
};
const stageIn = (p: PlaybookInput, id: string) => p.pipelines[0]!.stages.find((s) => s.id === id)!;
const clinic = compileCalendar(playbook.calendars.find((c) => c.id === 'clinic')!);

/** Varied visits of the fixture's "lead" stage (2h business, 30m when urgent, paused while waiting on the patient). */
function leadScenarios(n: number): Scenario[] {
  const rand = seeded(7);
  return Array.from({ length: n }, (_, i) => {
    // Entries at any hour of four days (nights and closed hours included: notices wait for staffed time).
    const enteredAt = MON_10 + Math.floor((rand() * 4 * 24 * HOUR) / MIN) * MIN;
    const exitAt = addBusinessTime(clinic, enteredAt, Math.floor(rand() * 5 * HOUR)) + 1;
    const pauses: [number, number][] = [];
    let from = enteredAt;
    for (let k = Math.floor(rand() * 4); k > 0; k--) {
      const a = from + Math.floor(rand() * (exitAt - from));
      const b = a + Math.floor(rand() * 3 * HOUR);
      pauses.push([a, b]);
      from = b;
    }
    return { dealId: String(1000 + i), urgent: rand() < 0.3, pauses, exitAt, enteredAt };
  });
}

/**
 * "review": 24h of calendar time, warning at 50 %, its role staffed only 18:00-22:00 on weekdays, so warnings and
 * escalations wait for the evening and may land at or after the due time (the engine then skips the warning task).
 */
function reviewScenarios(n: number): Scenario[] {
  const rand = seeded(13);
  return Array.from({ length: n }, (_, i) => {
    const enteredAt = MON_10 + Math.floor((rand() * 4 * 24 * HOUR) / MIN) * MIN;
    return {
      dealId: String(3000 + i),
      urgent: false,
      pauses: [],
      enteredAt,
      exitAt: enteredAt + Math.floor(rand() * 40 * HOUR),
      stage: 'review',
      toStage: 'won',
    };
  });
}

const driven = [...leadScenarios(150), ...reviewScenarios(60)].map((s) => driveLead(s));
const NOW = MON_10 + 7 * 24 * HOUR;

describe('replaying visits the engine recorded', () => {
  it('under the playbook that recorded them, reproduces the engine: outcome, due time, warning, levels, tasks', () => {
    const plan = planOf(playbook);
    expect(driven.some(({ row }) => row.slaOutcome === 'breached')).toBe(true);
    expect(driven.some(({ row }) => row.slaOutcome === 'met')).toBe(true);
    expect(driven.some(({ row }) => (row.inputs?.pauses.length ?? 0) > 0)).toBe(true);
    expect(driven.some(({ before }) => before.current!.sla!.levelsFired.length === 2)).toBe(true);
    expect(driven.some(({ before }) => before.current!.tasks.some((t) => t.kind === 'warning'))).toBe(true);
    expect(
      driven.some(({ row }) => row.slaOutcome === 'breached' && (row.inputs?.pauses.length ?? 0) > 0),
    ).toBe(true);
    for (const { row, before } of driven) {
      const r = replayVisit(row, plan);
      const clock = before.current!.sla!;
      expect({ deal: row.dealId, outcome: r.outcome }).toEqual({ deal: row.dealId, outcome: row.slaOutcome });
      if (row.slaOutcome === 'breached') expect(r.dueAt).toBe(row.breachedAt);
      else expect(r.dueAt).toBe(clock.dueAt);
      expect(r.targetMs).toBe(clock.targetMs);
      expect(r.levels).toBe(clock.levelsFired.length);
      expect(r.warned).toBe(before.current!.tasks.some((t) => t.kind === 'warning'));
      expect(r.tasks, `deal ${row.dealId}: ${before.current!.tasks.map((t) => t.kind).join(',')}`).toBe(
        before.current!.tasks.length,
      );
      if (row.slaOutcome === 'breached' && row.breachReason) expect(r.breachReason).toBe(row.breachReason);
    }
  });

  it('a deleted deal replays as cancelled, or as breached when the draft was due before the deletion', () => {
    const entered = reconcile({
      playbook,
      state: null,
      snapshot: snap({ dealId: '77', properties: {} }),
      now: MON_10,
    }).state!;
    const gone = reconcile({
      playbook,
      state: entered,
      snapshot: snap({ dealId: '77', exists: false }),
      now: MON_10 + HOUR,
    });
    const row = gone.commands.flatMap((c) => (c.type === 'recordHistory' ? [c.row] : []))[0]!;
    expect(row.slaOutcome).toBe('cancelled');
    // HubSpot no longer has the deal: nothing is recorded as its exit values.
    expect(row.inputs!.exit).toEqual({ props: {}, held: {} });
    expect(row.inputs!.evidence).toBeUndefined();
    expect(replayVisit(row, planOf(playbook)).outcome).toBe('cancelled');
    const tight = draftOf((p) => (stageIn(p, 'lead').sla!.target = '30m'));
    expect(replayVisit(row, planOf(tight))).toMatchObject({ outcome: 'breached', dueAt: MON_10 + 30 * MIN });
    // Breached, then deleted: with a target it would have kept, the visit is cancelled, not met.
    const id = `77:lead:${MON_10}`;
    const breached = onTimer({
      playbook,
      state: entered,
      snapshot: snap({ dealId: '77' }),
      timer: { timerId: `${id}:breach`, kind: 'breach', entryId: id },
      now: MON_10 + 2 * HOUR,
    }).state!;
    const goneLate = reconcile({
      playbook,
      state: breached,
      snapshot: snap({ dealId: '77', exists: false }),
      now: MON_10 + 3 * HOUR,
    });
    const late = goneLate.commands.flatMap((c) => (c.type === 'recordHistory' ? [c.row] : []))[0]!;
    expect(late.slaOutcome).toBe('breached');
    expect(replayVisit(late, planOf(playbook)).outcome).toBe('breached');
    const loose = draftOf((p) => (stageIn(p, 'lead').sla!.target = '4h'));
    expect(replayVisit(late, planOf(loose)).outcome).toBe('cancelled');
  });

  it('records enumeration values and criterion truths, never other values', () => {
    const { row } = driven[0]!;
    expect(row.inputs!.entry.props).toMatchObject({ urgency: expect.any(String) });
    // num_contacted_notes is read by a numeric criterion: only whether it held is kept.
    expect(Object.keys(row.inputs!.exit.props)).not.toContain('num_contacted_notes');
    expect(Object.values(row.inputs!.exit.held).every((v) => typeof v === 'boolean')).toBe(true);
    // Free text in an enumeration-compared property is not a token: not kept.
    const r = reconcile({
      playbook,
      state: null,
      snapshot: snap({ properties: { urgency: 'call Jane Doe at home' } }),
      now: MON_10,
    });
    expect(r.state!.current!.inputs!.props).not.toHaveProperty('urgency');
  });
});

describe('what-if, answers known by construction', () => {
  const rows = driven.map((d) => d.row);
  const leadRows = rows.filter((r) => r.stage === 'lead');

  it('a draft equal to the playbook in force changes nothing', () => {
    const same = draftOf(() => undefined);
    const running = [
      reconcile({
        playbook,
        state: null,
        snapshot: snap({ properties: { urgency: 'urgent' } }),
        now: NOW - HOUR,
      }).state!,
    ];
    const report = whatIf({ rows, current: playbook, draft: same, now: NOW, weeks: 1, running });
    expect(report.totals.visits).toBe(rows.length);
    expect(report.flipsTotal).toBe(0);
    expect(report.totals.draft).toEqual(report.totals.current);
    for (const s of [...report.byStage, ...report.byRole]) {
      expect(s.draft).toEqual(s.current);
      expect(s.medianDueShiftMs).toBe(0);
    }
    expect(report.repair.deals).toBe(1);
    expect(report.repair.byStage[0]).toMatchObject({ moved: 0, medianShiftMs: 0, unknown: 0 });
  });

  it('leaves event clock runs out: they are not stage visits, and a draft of the stage contracts does not replay them', () => {
    // An event clock run's history row (issue 11: `clocks:`) carries `clock` and a `clock.<id>` stage.
    const run: HistoryRow = {
      ...rows[0]!,
      stage: 'clock.support_inquiry',
      clock: 'support_inquiry',
      slaOutcome: 'breached',
    };
    const same = draftOf(() => undefined);
    const report = whatIf({ rows: [...rows, run], current: playbook, draft: same, now: NOW, weeks: 1 });
    expect(report.totals.visits).toBe(rows.length);
    expect(report.byStage.map((r) => r.stage.id)).not.toContain('clock.support_inquiry');
  });

  it('a target doubled turns exactly the visits that lasted between the two targets from breached to met', () => {
    // "fix": 4h of business time, no overrides, no pauses; visits of every length around both targets.
    const rand = seeded(11);
    const fixRows: HistoryRow[] = Array.from({ length: 400 }, (_, i) => {
      const enteredAt = MON_10 + Math.floor(rand() * 4 * 24 * HOUR);
      const businessMs = Math.floor((rand() * 12 * HOUR) / MIN) * MIN;
      return {
        dealId: String(5000 + i),
        pipeline: 'tele',
        stage: 'fix',
        ownerRole: 'intake',
        ownerId: '101',
        enteredAt,
        exitedAt: addBusinessTime(clinic, enteredAt, businessMs),
        businessMs,
        toStage: 'review',
        direction: 'forward',
        slaOutcome: 'met',
        breachReason: null,
      };
    });
    const doubled = draftOf((p) => (stageIn(p, 'fix').sla!.target = '8h'));
    const report = whatIf({
      rows: fixRows,
      current: playbook,
      draft: doubled,
      now: NOW + 7 * 24 * HOUR,
      weeks: 2,
    });
    const expected = fixRows
      .filter((r) => r.businessMs >= 4 * HOUR && r.businessMs < 8 * HOUR)
      .map((r) => r.dealId)
      .sort();
    expect(expected.length).toBeGreaterThan(50);
    expect(report.flipped.map((f) => f.dealId).sort()).toEqual(expected);
    expect(report.flipped.every((f) => f.from === 'breached' && f.to === 'met')).toBe(true);
    const fix = report.byStage.find((s) => s.stage.id === 'fix')!;
    expect(fix.current.breached - fix.draft.breached).toBe(expected.length);
    expect(fix.draft.unknown + fix.current.unknown).toBe(0);
  });

  it('a holiday added moves due times by exactly the staffed minutes of that day', () => {
    const holiday = '2026-03-04'; // a Wednesday, staffed 09:00-17:00 in the clinic calendar
    const dayStart = Date.parse('2026-03-04T00:00:00-05:00');
    // Two staffed days of target, so visits entered on Monday or Tuesday fall due before, on or after it.
    const current = draftOf((p) => (stageIn(p, 'fix').sla!.target = '16h'));
    const withHoliday = draftOf((p) => {
      stageIn(p, 'fix').sla!.target = '16h';
      p.calendars.find((c) => c.id === 'clinic')!.holidays = [holiday];
    });
    const rand = seeded(5);
    const fixRows: HistoryRow[] = Array.from({ length: 200 }, (_, i) => {
      // The Thursday before to Tuesday midnight: due before the holiday, on it and after it.
      const enteredAt = MON_10 - 4 * 24 * HOUR + Math.floor(rand() * (4 * 24 + 38) * HOUR);
      const exitedAt = enteredAt + 5 * 24 * HOUR;
      return {
        dealId: String(7000 + i),
        pipeline: 'tele',
        stage: 'fix',
        ownerRole: 'intake',
        ownerId: '101',
        enteredAt,
        exitedAt,
        businessMs: businessTimeBetween(clinic, enteredAt, exitedAt),
        toStage: 'review',
        direction: 'forward',
        slaOutcome: 'met',
        breachReason: null,
      };
    });
    const cur = planOf(current);
    const dra = planOf(withHoliday);
    let across = 0;
    for (const row of fixRows) {
      const a = replayVisit(row, cur).dueAt!;
      const b = replayVisit(row, dra).dueAt!;
      if (a <= dayStart) expect(b).toBe(a);
      else {
        // Due on or after the holiday: the draft's due is exactly its 8 staffed hours later on the old calendar.
        across++;
        expect(businessTimeBetween(clinic, a, b)).toBe(8 * HOUR);
      }
    }
    expect(across).toBeGreaterThan(20);
    expect(across).toBeLessThan(fixRows.length);
  });

  it('a property the visits never recorded yields "unknown", not a guess', () => {
    // A new override on a property the playbook in force never read.
    const draft = draftOf((p) =>
      stageIn(p, 'lead').sla!.overrides!.unshift({
        when: [{ op: 'equals', property: 'language', value: 'es' }],
        target: '4h',
      }),
    );
    const report = whatIf({ rows, current: playbook, draft, now: NOW, weeks: 1 });
    const lead = report.byStage.find((s) => s.stage.id === 'lead')!;
    expect(lead.draft.unknown).toBe(leadRows.length);
    expect(lead.current.unknown).toBe(0);
    expect(report.flipsTotal).toBe(0);
    expect(lead.medianDueShiftMs).toBeNull();
    // An override on a recorded enumeration value is decided from it: "routine" visits get 4h.
    const routine = draftOf((p) =>
      stageIn(p, 'lead').sla!.overrides!.push({
        when: [{ op: 'equals', property: 'urgency', value: 'routine' }],
        target: '4h',
      }),
    );
    const known = whatIf({ rows, current: playbook, draft: routine, now: NOW, weeks: 1 }).byStage.find(
      (s) => s.stage.id === 'lead',
    )!;
    expect(known.draft.unknown).toBe(0);
    for (const row of leadRows) {
      const r = replayVisit(row, planOf(routine));
      expect(r.targetMs).toBe(row.inputs!.entry.props.urgency === 'urgent' ? 30 * MIN : 4 * HOUR);
    }
    // Rows written before inputs were recorded: unknown wherever the stage reads a property.
    const old = rows.map(({ inputs: _drop, ...rest }) => rest);
    const oldReport = whatIf({ rows: old, current: playbook, draft: routine, now: NOW, weeks: 1 });
    expect(oldReport.byStage.find((s) => s.stage.id === 'lead')!.current.unknown).toBe(leadRows.length);
    // "review" reads no property: its visits replay the same with or without inputs.
    expect(oldReport.byStage.find((s) => s.stage.id === 'review')!.current.unknown).toBe(0);
    // A pause condition that was never watched cannot be replayed either; removing all of them can.
    const newPause = draftOf(
      (p) => (stageIn(p, 'lead').sla!.pauseWhen = [{ op: 'equals', property: 'waiting_on', value: 'lab' }]),
    );
    expect(
      whatIf({ rows, current: playbook, draft: newPause, now: NOW, weeks: 1 }).totals.draft.unknown,
    ).toBe(leadRows.length);
    const noPause = draftOf((p) => (stageIn(p, 'lead').sla!.pauseWhen = []));
    expect(whatIf({ rows, current: playbook, draft: noPause, now: NOW, weeks: 1 }).totals.draft.unknown).toBe(
      0,
    );
  });
});

describe('bounded recording', () => {
  it('a visit that pauses more than MAX_PAUSE_INTERVALS times gives up its inputs and replays as unknown', () => {
    const pauses = (n: number) =>
      Array.from({ length: n }, (_, i): [number, number] => [
        MON_10 + (2 * i + 1) * MIN,
        MON_10 + (2 * i + 2) * MIN,
      ]);
    const exitAt = MON_10 + 6 * HOUR;
    const within = driveLead({ dealId: '8001', urgent: false, pauses: pauses(MAX_PAUSE_INTERVALS), exitAt });
    expect(within.row.inputs!.pauses).toHaveLength(MAX_PAUSE_INTERVALS);
    expect(replayVisit(within.row, planOf(playbook)).outcome).toBe(within.row.slaOutcome);
    const over = driveLead({
      dealId: '8002',
      urgent: false,
      pauses: pauses(MAX_PAUSE_INTERVALS + 1),
      exitAt,
    });
    expect(over.row.inputs).toBeUndefined();
    expect(replayVisit(over.row, planOf(playbook)).outcome).toBe('unknown');
  });
});

describe('repair preview and output', () => {
  it('moves a running clock by the added target on its calendar, as the engine would on publish', () => {
    const running = reconcile({
      playbook,
      state: null,
      snapshot: snap({ dealId: '42', properties: {} }),
      now: MON_10,
    }).state!;
    const draft = draftOf((p) => (stageIn(p, 'lead').sla!.target = '3h'));
    const report = whatIf({
      rows: [],
      current: playbook,
      draft,
      now: MON_10 + 10 * MIN,
      weeks: 4,
      running: [running],
    });
    const move = report.repair.moves[0]!;
    expect(move.dealId).toBe('42');
    expect(businessTimeBetween(clinic, move.fromDueAt!, move.toDueAt!)).toBe(HOUR);
    // The engine itself, given the draft as the new version, lands on the same due time.
    const applied = reconcile({
      playbook: draft,
      state: running,
      snapshot: snap({ dealId: '42', properties: {} }),
      now: MON_10 + 10 * MIN,
    }).state!;
    expect(applied.current!.sla!.dueAt).toBe(move.toDueAt);
  });

  it('prints a table, a CSV and JSON', () => {
    const draft = fixturePlaybook((p) => {
      p.version = 2;
      stageIn(p, 'lead').sla!.target = '4h';
    });
    const report = whatIf({ rows: driven.map((d) => d.row), current: playbook, draft, now: NOW, weeks: 1 });
    const text = formatWhatIf(report, 'table');
    expect(text).toContain('By stage');
    expect(text).toMatch(new RegExp(`Lead\\s+${driven.filter((d) => d.row.stage === 'lead').length}\\s`));
    expect(formatWhatIf(report, 'csv').split('\r\n')[0]).toMatch(/^scope,stage_id/);
    expect(JSON.parse(formatWhatIf(report, 'json')).flipsTotal).toBe(report.flipsTotal);
  });
});
