import { describe, expect, it } from 'vitest';
import { BreachReasonRule, type BreachReason, type PlaybookInput } from '../playbook/schema';
import { P } from '../properties';
import { fixturePlaybook, HOUR, MON_10, snap, written } from './fixtures';
import { setBreachReason } from './manual-reason';
import { onTimer } from './on-timer';
import { reconcile } from './reconcile';
import type { DealSnapshot } from './types';

/**
 * Seed 000: "tag breach reason (capacity, missing data, handoff, patient unreachable)"; the taxonomy drives the
 * weekly review. Each situation runs through the engine (entry, what happened during the visit, the breach timer)
 * and names the evidence that decides its reason (docs/breach-reasons.md). The fixture: stage "lead" (intake role,
 * owners 101 and 102, no teams) exits on the data criterion "First contact logged" (num_contacted_notes >= 1);
 * stage "intake" exits on the action "Consent collected" (taskDone) and the data criterion "intake_form_at".
 */

type Situation = {
  name: string;
  stage?: 'lead' | 'intake';
  /** Properties at entry and at the breach. */
  atEntry?: Record<string, string>;
  atBreach?: Record<string, string>;
  ownerAtEntry?: string | null;
  /** The owner seen during the visit (an owner change) and at the breach. */
  ownerAtBreach?: string | null;
  ownerOpenTasks?: number;
  consentDone?: boolean;
  edit?: (p: PlaybookInput) => void;
  reason: BreachReason;
  /** The labels that decided it (the recorded evidence), exactly. */
  evidence: string[];
};

const NONE = ['no evidence for capacity, missing data, handoff or an unreachable patient'];
const UNMET_CONTACT = 'data criterion unmet: First contact logged';
const capacity = (openTasks: number) => (p: PlaybookInput) => {
  p.roles[0]!.capacity = { openTasks };
};

const situations: Situation[] = [
  {
    name: 'no contact logged: the data criterion is unmet',
    reason: 'missing_data',
    evidence: [UNMET_CONTACT],
  },
  {
    name: 'contact logged, nothing else wrong',
    atBreach: { num_contacted_notes: '1' },
    reason: 'other',
    evidence: NONE,
  },
  {
    name: '2 attempts since entry, no reply',
    atBreach: { num_contacted_notes: '2' },
    reason: 'patient_unreachable',
    evidence: ['2 contact attempt(s) since entry, no inbound reply since entry (threshold 2)'],
  },
  {
    name: '3 attempts, but the patient replied after entry',
    atBreach: { num_contacted_notes: '3', last_reply_at: String(MON_10 + HOUR) },
    reason: 'other',
    evidence: NONE,
  },
  {
    name: '3 attempts, the only reply came before entry',
    atBreach: { num_contacted_notes: '3', last_reply_at: String(MON_10 - 24 * HOUR) },
    reason: 'patient_unreachable',
    evidence: ['3 contact attempt(s) since entry, no inbound reply since entry (threshold 2)'],
  },
  {
    name: 'attempts made before entry do not count: 2 at entry, 3 at breach',
    atEntry: { num_contacted_notes: '2' },
    atBreach: { num_contacted_notes: '3' },
    reason: 'other',
    evidence: NONE,
  },
  {
    name: 'the deal lost its owner during the visit',
    atBreach: { num_contacted_notes: '1' },
    ownerAtBreach: null,
    reason: 'handoff',
    evidence: ['deal has no owner', 'owner changed 1 time(s) during the visit'],
  },
  {
    name: 'the deal never had an owner',
    ownerAtEntry: null,
    ownerAtBreach: null,
    atBreach: { num_contacted_notes: '1' },
    reason: 'handoff',
    evidence: ['deal has no owner'],
  },
  {
    name: 'owner changed from 101 to 102 during the visit',
    atBreach: { num_contacted_notes: '1' },
    ownerAtBreach: '102',
    reason: 'handoff',
    evidence: ['owner changed 1 time(s) during the visit'],
  },
  {
    name: "owner 999 is not one of the role's owners (the role has no teams)",
    ownerAtEntry: '999',
    ownerAtBreach: '999',
    atBreach: { num_contacted_notes: '1' },
    reason: 'handoff',
    evidence: ["owner is not one of the stage role's owners"],
  },
  {
    name: 'owner 999 when the role is also held by a team: membership unknown, no guess',
    ownerAtEntry: '999',
    ownerAtBreach: '999',
    atBreach: { num_contacted_notes: '1' },
    edit: (p) => {
      p.roles[0]!.teams = ['555'];
    },
    reason: 'other',
    evidence: NONE,
  },
  {
    name: "owner holds 11 open tasks, the role's threshold is 10",
    atBreach: { num_contacted_notes: '1' },
    ownerOpenTasks: 11,
    edit: capacity(10),
    reason: 'capacity',
    evidence: ["owner holds 11 open tasks in HubSpot, above the role's threshold of 10"],
  },
  {
    name: 'owner holds exactly the threshold: not above it',
    atBreach: { num_contacted_notes: '1' },
    ownerOpenTasks: 10,
    edit: capacity(10),
    reason: 'other',
    evidence: NONE,
  },
  {
    name: 'load unknown (HubSpot not read): capacity cannot be claimed, the data criterion decides',
    edit: capacity(10),
    reason: 'missing_data',
    evidence: [UNMET_CONTACT],
  },
  {
    name: 'owner holds 50 open tasks but the role sets no threshold',
    atBreach: { num_contacted_notes: '1' },
    ownerOpenTasks: 50,
    reason: 'other',
    evidence: NONE,
  },
  {
    name: 'intake: consent task not done, form recorded: an action pending is not missing data',
    stage: 'intake',
    atBreach: { intake_form_at: String(MON_10) },
    reason: 'other',
    evidence: NONE,
  },
  {
    name: 'intake: consent done, form missing',
    stage: 'intake',
    consentDone: true,
    reason: 'missing_data',
    evidence: ['data criterion unmet: intake_form_at present'],
  },
  {
    name: 'intake: consent pending and form missing: only the data criterion is evidence',
    stage: 'intake',
    reason: 'missing_data',
    evidence: ['data criterion unmet: intake_form_at present'],
  },
  {
    name: 'precedence: unreachable patient before missing data',
    stage: 'intake',
    atBreach: { num_contacted_notes: '2' },
    reason: 'patient_unreachable',
    evidence: ['2 contact attempt(s) since entry, no inbound reply since entry (threshold 2)'],
  },
  {
    name: 'precedence: handoff before capacity (owner changed to an overloaded owner)',
    atBreach: { num_contacted_notes: '1' },
    ownerAtBreach: '102',
    ownerOpenTasks: 30,
    edit: capacity(10),
    reason: 'handoff',
    evidence: ['owner changed 1 time(s) during the visit'],
  },
  {
    name: 'precedence from the playbook: capacity first',
    atBreach: { num_contacted_notes: '1' },
    ownerAtBreach: '102',
    ownerOpenTasks: 30,
    edit: (p) => {
      capacity(10)(p);
      p.breachRules = { precedence: ['capacity', 'handoff', 'patient_unreachable', 'missing_data'] };
    },
    reason: 'capacity',
    evidence: ["owner holds 30 open tasks in HubSpot, above the role's threshold of 10"],
  },
  {
    name: 'the playbook asks 3 unanswered attempts: 2 are not enough',
    atBreach: { num_contacted_notes: '2' },
    edit: (p) => {
      p.breachRules = { unreachableAfterAttempts: 3 };
    },
    reason: 'other',
    evidence: NONE,
  },
  {
    name: "stage's own rule missingData ignores a pending action",
    stage: 'intake',
    atBreach: { intake_form_at: String(MON_10) },
    edit: (p) => {
      p.pipelines[0]!.stages[1]!.breachReasons = [{ reason: 'missing_data', missingExitCriteria: true }];
    },
    reason: 'other',
    evidence: NONE,
  },
  {
    name: "stage's own rule overCapacity reads the role's threshold",
    atBreach: { num_contacted_notes: '1' },
    ownerOpenTasks: 8,
    edit: (p) => {
      capacity(5)(p);
      p.pipelines[0]!.stages[0]!.breachReasons = [{ reason: 'capacity', overCapacity: true }];
    },
    reason: 'capacity',
    evidence: ["owner holds 8 open tasks, above the role's threshold of 5"],
  },
];

function run(s: Situation) {
  const playbook = fixturePlaybook(s.edit);
  const stage = s.stage ?? 'lead';
  const ownerAtEntry = s.ownerAtEntry === undefined ? '101' : s.ownerAtEntry;
  const ownerAtBreach = s.ownerAtBreach === undefined ? ownerAtEntry : s.ownerAtBreach;
  const entry = snap({
    stage,
    ownerId: ownerAtEntry,
    properties: { num_contacted_notes: '0', ...s.atEntry },
  });
  let state = reconcile({ playbook, state: null, snapshot: entry, now: MON_10 }).state!;
  const entryId = state.current!.entryId;
  const consentKey = state.current!.tasks.find((t) => t.templateId === 'consent')?.key;
  const atBreach: DealSnapshot = {
    ...entry,
    ownerId: ownerAtBreach,
    properties: { ...entry.properties, ...s.atBreach },
    tasks: consentKey && s.consentDone ? { [consentKey]: 'COMPLETED' } : {},
    ...(s.ownerOpenTasks !== undefined ? { ownerOpenTasks: s.ownerOpenTasks } : {}),
  };
  if (ownerAtBreach !== ownerAtEntry)
    state = reconcile({
      playbook,
      state,
      snapshot: { ...atBreach, ownerOpenTasks: undefined },
      now: MON_10 + HOUR / 2,
    }).state!;
  const dueAt = state.current!.sla!.dueAt;
  return onTimer({
    playbook,
    state,
    snapshot: atBreach,
    timer: { timerId: `${entryId}:breach`, kind: 'breach', entryId },
    now: dueAt,
  });
}

describe('breach reasons: the evidence decides (seed 000 taxonomy)', () => {
  it('has at least 20 situations', () => expect(situations.length).toBeGreaterThanOrEqual(20));

  it.each(situations.map((s) => [s.name, s] as const))('%s', (_, s) => {
    const r = run(s);
    const entry = r.state!.current!;
    expect(entry.sla!.status).toBe('breached');
    expect(entry.breachReason).toBe(s.reason);
    expect(entry.breachEvidence).toEqual(s.evidence);
    // The evidence is written back with the reason, so HubSpot reports can group by it.
    const props = written(r);
    expect(props[P.breachReason]).toBe(s.reason);
    expect(props[P.breachEvidence]).toBe(s.evidence.join('; '));
    expect(props[P.breachOwnerOpenTasks]).toBe(
      s.ownerOpenTasks !== undefined ? String(s.ownerOpenTasks) : '',
    );
  });

  it('keeps the counts it read on the visit and its history row', () => {
    const r = run(situations.find((s) => s.reason === 'capacity')!);
    const facts = {
      ownerOpenTasks: 11,
      capacityThreshold: 10,
      unansweredAttempts: 1,
      noOwner: false,
      missingData: 0,
    };
    expect(r.state!.current!.breachFacts).toMatchObject(facts);
    expect(r.state!.current!.inferredReason).toBe('capacity');
    const playbook = fixturePlaybook(capacity(10));
    const moved = snap({
      stage: 'intake',
      stageEnteredAt: MON_10 + 3 * HOUR,
      properties: { num_contacted_notes: '1', insurance_id: 'x' },
    });
    const exit = reconcile({ playbook, state: r.state, snapshot: moved, now: MON_10 + 3 * HOUR });
    const row = exit.commands.find((c) => c.type === 'recordHistory');
    expect(row?.type === 'recordHistory' && row.row).toMatchObject({
      slaOutcome: 'breached',
      breachReason: 'capacity',
      inferredReason: 'capacity',
      breachEvidence: ["owner holds 11 open tasks in HubSpot, above the role's threshold of 10"],
      breachFacts: facts,
    });
  });

  it('a reason a rep set before the breach is kept over the evidence', () => {
    const playbook = fixturePlaybook();
    const entry = snap({ properties: { num_contacted_notes: '0' } });
    const state = reconcile({ playbook, state: null, snapshot: entry, now: MON_10 }).state!;
    const preset = setBreachReason({ playbook, state, reason: 'capacity', now: MON_10 + HOUR }).state!;
    const id = preset.current!.entryId;
    const r = onTimer({
      playbook,
      state: preset,
      snapshot: entry,
      timer: { timerId: `${id}:breach`, kind: 'breach', entryId: id },
      now: preset.current!.sla!.dueAt,
    });
    expect(r.state!.current).toMatchObject({ breachReason: 'capacity', breachReasonSource: 'manual' });
  });

  it('a rule that names a reason without any condition is refused: it would be a guess', () => {
    expect(BreachReasonRule.safeParse({ reason: 'capacity' }).success).toBe(false);
    expect(BreachReasonRule.safeParse({ reason: 'other' }).success).toBe(true);
    expect(BreachReasonRule.safeParse({ reason: 'capacity', overCapacity: true }).success).toBe(true);
  });
});
