import { Playbook } from '@stagekeeper/shared';

/** A small playbook over the sandbox's "sk_care" pipeline, for this folder's tests only. */
export function testPlaybook(overrides: { stageIds?: string[]; pipelineId?: string } = {}): Playbook {
  const ids = overrides.stageIds ?? ['sk_referral', 'sk_intake', 'sk_scheduled', 'sk_done'];
  return Playbook.parse({
    schemaVersion: 1,
    name: 'Adapter tests',
    calendars: [{ id: 'clinic', timeZone: 'America/New_York', hours: '24/7' }],
    roles: [{ id: 'intake', name: 'Intake', owners: ['501'], lead: '502' }],
    pipelines: [
      {
        id: overrides.pipelineId ?? 'sk_care',
        label: 'Care journey',
        stages: [
          {
            id: ids[0],
            label: 'Referral',
            ownerRole: 'intake',
            exitCriteria: [{ op: 'present', property: 'intake_form_received' }],
          },
          {
            id: ids[1],
            label: 'Intake Completed',
            ownerRole: 'intake',
            sla: {
              target: '2d',
              basis: 'calendar',
              pauseWhen: [{ op: 'equals', property: 'waiting_on', value: 'patient' }],
            },
          },
          {
            id: ids[2],
            label: 'Scheduled',
            ownerRole: 'intake',
            entryCriteria: [{ op: 'present', property: 'dealname' }],
          },
          { id: ids[3], label: 'Done', ownerRole: 'intake', closed: true },
        ],
      },
    ],
  });
}
