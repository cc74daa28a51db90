// Test support only: a small telehealth-shaped playbook and helpers shared by the engine's tests.
import { Playbook, type PlaybookInput } from '../playbook/schema';
import type { Command, DealSnapshot, EngineResult } from './types';

export const HOUR = 3_600_000;
export const MIN = 60_000;

/** Test instants are written with explicit offsets so no machine's zone leaks in. */
export const at = (isoWithOffset: string): number => {
  const ms = Date.parse(isoWithOffset);
  if (Number.isNaN(ms)) throw new Error(`bad test instant ${isoWithOffset}`);
  return ms;
};

/** Monday 2026-03-02 10:00 in New York (EST, UTC-5): one staffed hour into the clinic day. */
export const MON_10 = at('2026-03-02T10:00:00-05:00');

export const fixtureInput = (): PlaybookInput => ({
  schemaVersion: 1,
  name: 'Fixture telehealth',
  version: 1,
  signals: { contactAttempts: 'num_contacted_notes', lastInboundReply: 'last_reply_at' },
  calendars: [
    {
      id: 'clinic',
      timeZone: 'America/New_York',
      hours: {
        mon: [{ start: '09:00', end: '17:00' }],
        tue: [{ start: '09:00', end: '17:00' }],
        wed: [{ start: '09:00', end: '17:00' }],
        thu: [{ start: '09:00', end: '17:00' }],
        fri: [{ start: '09:00', end: '17:00' }],
      },
    },
    {
      id: 'evening',
      timeZone: 'America/New_York',
      hours: {
        mon: [{ start: '18:00', end: '22:00' }],
        tue: [{ start: '18:00', end: '22:00' }],
        wed: [{ start: '18:00', end: '22:00' }],
        thu: [{ start: '18:00', end: '22:00' }],
        fri: [{ start: '18:00', end: '22:00' }],
      },
    },
  ],
  roles: [
    { id: 'intake', name: 'Intake', owners: ['101', '102'], lead: '100', calendar: 'clinic' },
    { id: 'care', name: 'Care', owners: ['201'], lead: '200', calendar: 'evening' },
  ],
  pipelines: [
    {
      id: 'tele',
      label: 'Telehealth',
      gate: { onBlocked: 'revert' },
      stages: [
        {
          id: 'lead',
          label: 'Lead',
          ownerRole: 'intake',
          exitCriteria: [
            { op: 'gte', property: 'num_contacted_notes', value: 1, label: 'First contact logged' },
          ],
          requiredActions: [{ id: 'call', subject: 'First call', type: 'CALL', dueAfter: '1h' }],
          sla: {
            target: '2h',
            calendar: 'clinic',
            overrides: [{ when: [{ op: 'equals', property: 'urgency', value: 'urgent' }], target: '30m' }],
            pauseWhen: [{ op: 'equals', property: 'waiting_on', value: 'patient' }],
            escalations: [
              { at: 100, actions: [{ type: 'taskForLead' }] },
              {
                at: 150,
                actions: [
                  { type: 'reassignToLead' },
                  { type: 'setProperty', property: 'priority_flag', value: 'high' },
                ],
              },
            ],
          },
        },
        {
          id: 'intake',
          label: 'Intake',
          ownerRole: 'intake',
          entryCriteria: [{ op: 'present', property: 'insurance_id', label: 'Insurance id' }],
          exitCriteria: [
            { op: 'taskDone', task: 'consent', label: 'Consent collected' },
            { op: 'present', property: 'intake_form_at' },
          ],
          requiredActions: [
            { id: 'consent', subject: 'Collect consent' },
            { id: 'day1', subject: 'Day-1 follow-up', dueAfter: '1d', basis: 'calendar', assignee: 'lead' },
          ],
          sla: { target: '8h', calendar: 'clinic' },
        },
        { id: 'fix', label: 'Needs info', ownerRole: 'intake', sla: { target: '4h', calendar: 'clinic' } },
        {
          id: 'review',
          label: 'Review',
          ownerRole: 'care',
          gate: { onBlocked: 'remediate', stage: 'fix' },
          entryCriteria: [{ op: 'equals', property: 'docs_ok', value: 'true', label: 'Documents received' }],
          sla: {
            target: '24h',
            basis: 'calendar',
            calendar: 'clinic',
            warningAt: 50,
            escalations: [{ at: 100, actions: [{ type: 'notifyOwner' }] }],
          },
        },
        { id: 'won', label: 'Started care', ownerRole: 'care', closed: true },
        { id: 'lost', label: 'Lost', ownerRole: 'intake', closed: true },
      ],
    },
  ],
});

export const fixturePlaybook = (edit?: (p: PlaybookInput) => void): Playbook => {
  const input = fixtureInput();
  edit?.(input);
  return Playbook.parse(input);
};

// Seed 000 lines 87-90 (care-continuity SLAs): support inquiry response <= 1 business hour; refill follow-up on
// missing inputs <= 24 hours (calendar hours).
export const withClocks = (edit?: (p: PlaybookInput) => void) => {
  const input = fixtureInput();
  input.clocks = [
    {
      id: 'support_inquiry',
      label: 'Support inquiry response',
      role: 'intake',
      start: { property: 'support_inquiry_at', on: 'change' },
      startAt: 'value',
      stopOn: [{ property: 'support_responded_at', on: 'change' }],
      sla: {
        target: '1h',
        calendar: 'clinic',
        warningAt: 75,
        overrides: [{ when: [{ op: 'equals', property: 'urgency', value: 'urgent' }], target: '15m' }],
        escalations: [{ at: 100, actions: [{ type: 'taskForLead', subject: 'Support inquiry unanswered' }] }],
      },
    },
    {
      id: 'refill_inputs',
      label: 'Refill follow-up on missing inputs',
      role: 'care',
      start: { property: 'refill_missing_input', on: 'set' },
      stopOn: [{ property: 'refill_missing_input', on: 'cleared' }],
      sla: { target: '24h', basis: 'calendar', warningAt: 75 },
    },
  ];
  edit?.(input);
  return Playbook.parse(input);
};

export function snap(over: Partial<DealSnapshot> = {}): DealSnapshot {
  return {
    dealId: 'd1',
    exists: true,
    pipeline: 'tele',
    stage: 'lead',
    ownerId: '101',
    stageEnteredAt: MON_10,
    properties: {},
    tasks: {},
    ...over,
  };
}

export type Of<T extends Command['type']> = Extract<Command, { type: T }>;

export function only<T extends Command['type']>(r: EngineResult, type: T): Of<T>[] {
  return r.commands.filter((c): c is Of<T> => c.type === type);
}

/** The property writes of one result (the engine emits at most one setProperties per call). */
export function written(r: EngineResult): Record<string, string> {
  const sets = only(r, 'setProperties');
  if (sets.length > 1) throw new Error('expected at most one setProperties command');
  return sets[0]?.properties ?? {};
}

export const rules = (r: EngineResult): string[] => r.decisions.map((d) => d.rule);
