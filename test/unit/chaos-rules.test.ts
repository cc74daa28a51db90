import { describe, expect, it } from 'vitest';
import { chaosPlaybook, chaosTargetMinutes } from '../chaos/playbook';
import { checkCurrentVisit, checkGateProperties, checkHistoryRow, stageRules } from '../chaos/verify';

/**
 * The chaos verifier's rules are computed from the playbook, not by the engine: a value bug in the engine (here
 * an SLA due one minute late, consistently everywhere, which a replay through the same engine reproduces and so
 * cannot see) is a discrepancy.
 */
const MIN = 60_000;
const rules = stageRules(chaosPlaybook());
const rule = rules.get('sk_chaos_new')!;
const T = chaosTargetMinutes(0) * MIN;
const entered = Date.parse('2026-11-28T12:00:00Z');
const right = {
  slaTaskDue: entered + T,
  dueProp: entered + T,
  warningProp: entered + T / 2,
  status: 'breached',
  breachedAt: entered + T,
  escalated: true,
};

describe('chaos verifier rules (issue 12)', () => {
  it('reads the contract from the playbook', () => {
    expect(rule).toEqual({ targetMs: T, warningPct: 50, escalationPcts: [150] });
  });

  it('accepts a visit that follows the rules', () => {
    expect(checkCurrentVisit(rule, entered, entered + 2 * T, right)).toEqual([]);
    expect(
      checkCurrentVisit(rule, entered, entered + T / 3, {
        ...right,
        status: 'running',
        breachedAt: null,
        escalated: false,
      }),
    ).toEqual([]);
  });

  it('an off-by-one-minute due time is a "due" discrepancy, wherever it shows', () => {
    const late = {
      ...right,
      slaTaskDue: entered + T + MIN,
      dueProp: entered + T + MIN,
      breachedAt: entered + T + MIN,
    };
    const found = checkCurrentVisit(rule, entered, entered + 2 * T, late);
    expect(found.filter((d) => d.kind === 'due')).toHaveLength(2);
    expect(found.filter((d) => d.kind === 'breach')).toHaveLength(1);
  });

  it('breach iff past due: not breached after due, or breached before it', () => {
    expect(
      checkCurrentVisit(rule, entered, entered + T + 1, {
        ...right,
        status: 'warning',
        breachedAt: null,
        escalated: false,
      }).map((d) => d.kind),
    ).toEqual(['breach']);
    expect(
      checkCurrentVisit(rule, entered, entered + T - 1, { ...right, escalated: false }).map((d) => d.kind),
    ).toEqual(['breach']);
    expect(
      checkCurrentVisit(rule, entered, entered + 1.5 * T, { ...right, escalated: false }).map((d) => d.kind),
    ).toEqual(['escalation']);
  });

  it('history rows: left at or after due is breached at due; before it, met', () => {
    expect(
      checkHistoryRow(rule, {
        enteredAt: entered,
        exitedAt: entered + T,
        slaOutcome: 'breached',
        breachedAt: entered + T,
      }),
    ).toBeNull();
    expect(
      checkHistoryRow(rule, {
        enteredAt: entered,
        exitedAt: entered + T - 1,
        slaOutcome: 'met',
        breachedAt: null,
      }),
    ).toBeNull();
    expect(
      checkHistoryRow(rule, {
        enteredAt: entered,
        exitedAt: entered + T - 1,
        slaOutcome: 'breached',
        breachedAt: entered + T - 1,
      }),
    ).toMatch(/recorded breached/);
    expect(
      checkHistoryRow(rule, {
        enteredAt: entered,
        exitedAt: entered + T + MIN,
        slaOutcome: 'met',
        breachedAt: null,
      }),
    ).toMatch(/recorded met/);
    expect(
      checkHistoryRow(rule, {
        enteredAt: entered,
        exitedAt: entered + 2 * T,
        slaOutcome: 'breached',
        breachedAt: entered + T + MIN,
      }),
    ).toMatch(/breached at/);
  });

  it("finds a gate's properties that disagree (a merge filling a clear gate's list with the merged deal's)", () => {
    expect(checkGateProperties('clear', null)).toBeNull();
    expect(checkGateProperties(null, null)).toBeNull();
    expect(checkGateProperties('blocked_remediation', 'Ready flag')).toBeNull();
    expect(checkGateProperties('clear', 'Ready flag')).toMatch(/clear with a missing list/);
    expect(checkGateProperties('blocked_reverted', null)).toMatch(/without a missing list/);
  });
});
