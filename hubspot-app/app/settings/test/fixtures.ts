import type { PlaybookDoc, PlaybookBody, InstallStatusBody } from '@stagekeeper/app-client/api';

export const playbook = (): PlaybookDoc => ({
  schemaVersion: 1,
  name: 'Telehealth intake',
  version: 3,
  calendars: [
    { id: 'clinic', timeZone: 'America/New_York', hours: '24/7', holidays: [] },
    { id: 'on_call', timeZone: 'America/Chicago', hours: '24/7', holidays: [] },
  ],
  roles: [
    { id: 'intake', name: 'Intake coordinator', owners: ['11'], teams: [], lead: '11' },
    { id: 'clinical', name: 'Clinical reviewer', owners: ['22'], teams: [], lead: '22' },
  ],
  pipelines: [
    {
      id: 'p1',
      label: 'Telehealth intake',
      gate: { onBlocked: 'revert' },
      stages: [
        {
          id: 's1',
          label: 'New referral',
          ownerRole: 'intake',
          entryCriteria: [],
          exitCriteria: [{ op: 'present', property: 'intake_summary', label: 'Intake summary' }],
          sla: {
            target: '4h',
            basis: 'business',
            calendar: 'clinic',
            warningAt: 75,
            overrides: [],
            pauseWhen: [],
          },
        },
        {
          id: 's2',
          label: 'Clinical review',
          ownerRole: 'clinical',
          sla: { target: '1d', basis: 'calendar', calendar: 'on_call', warningAt: 50 },
        },
        { id: 's3', label: 'Closed', ownerRole: 'intake', closed: true },
      ],
    },
  ],
  signals: { contactAttempts: 'num_contacted_notes' },
});

export const playbookResponse = (doc: PlaybookDoc | null = playbook()): PlaybookBody => ({
  version: doc?.version ?? null,
  updatedAt: doc ? '2026-11-20T10:00:00.000Z' : null,
  updatedBy: doc ? 'ops@example.com' : null,
  playbook: doc,
});

export const status = (over: Partial<InstallStatusBody> = {}): InstallStatusBody => ({
  portalId: 123,
  installed: true,
  installedAt: '2026-11-01T09:00:00.000Z',
  missingScopes: [],
  provisioning: {
    state: 'complete',
    propertiesExpected: 13,
    propertiesPresent: 13,
    lastRunAt: '2026-11-01T09:01:00.000Z',
    error: null,
  },
  lastWebhookAt: '2026-11-24T15:59:00.000Z',
  lastSweepAt: '2026-11-24T15:55:00.000Z',
  ...over,
});
