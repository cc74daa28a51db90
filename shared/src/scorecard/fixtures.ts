import type { HistoryRow } from '../engine/types';
import { Playbook } from '../playbook/schema';

/** A two-pipeline playbook small enough to check scorecards by hand (test-only). */
export const scorecardPlaybook = (timeZone = 'America/New_York'): Playbook =>
  Playbook.parse({
    schemaVersion: 1,
    name: 'Scorecard fixture',
    calendars: [{ id: 'office', timeZone, hours: '24/7' }],
    roles: [
      { id: 'intake', name: 'Intake coordinator', owners: ['1'], lead: '1' },
      { id: 'clinical', name: 'Clinical ops', owners: ['2'], lead: '2' },
    ],
    pipelines: [
      {
        id: 'p1',
        label: 'Telehealth intake',
        stages: [
          { id: 's1', label: 'New referral', ownerRole: 'intake' },
          { id: 's2', label: 'Intake call', ownerRole: 'intake' },
          { id: 's3', label: 'Clinical review', ownerRole: 'clinical' },
          { id: 's4', label: 'Active care', ownerRole: 'clinical', closed: true },
          { id: 's5', label: 'Not qualified', ownerRole: 'clinical', closed: true, closedLost: true },
        ],
        // Clinical review sending a deal back for another intake call is by design here (a declared loop).
        loops: [{ from: 's3', to: 's2' }],
      },
      {
        id: 'p2',
        label: 'Referrals',
        stages: [{ id: 'r1', label: 'Referral received', ownerRole: 'clinical' }],
      },
    ],
  });

let seq = 0;
/** A visit with neutral defaults; tests override what they are about. */
export const visit = (over: Partial<HistoryRow> & Pick<HistoryRow, 'exitedAt'>): HistoryRow => ({
  dealId: String(++seq),
  pipeline: 'p1',
  stage: 's1',
  ownerRole: 'intake',
  ownerId: null,
  enteredAt: over.exitedAt - 60_000,
  businessMs: 60_000,
  toStage: 's2',
  direction: 'forward',
  slaOutcome: 'none',
  breachReason: null,
  ...over,
});
