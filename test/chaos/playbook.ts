import { Playbook } from '@stagekeeper/shared';

export const CHAOS_PIPELINE = 'sk_chaos';
export const CHAOS_STAGES = ['sk_chaos_new', 'sk_chaos_contacted', 'sk_chaos_intake', 'sk_chaos_review', 'sk_chaos_booked'] as const;
export const CHAOS_OWNERS = ['61000001', '61000002'] as const;

/**
 * Every stage has an SLA, so every visit must end with exactly one open SLA task and armed timers. Targets are
 * hours on a 24/7 calendar: a run lasts minutes, so no timer fires and the end state depends on the stage
 * history alone, which is what makes it comparable with a replay. No exit criteria: every move stands, so the
 * workload, not the gates, decides the history. One stage has task templates so multi-task creates and
 * cancels are exercised too.
 */
export function chaosPlaybook(): Playbook {
  return Playbook.parse({
    schemaVersion: 1,
    name: 'Chaos',
    version: 1,
    calendars: [{ id: 'always', timeZone: 'America/New_York', hours: '24/7' }],
    roles: [{ id: 'care', name: 'Care team', owners: [...CHAOS_OWNERS], lead: '61000000', calendar: 'always' }],
    pipelines: [
      {
        id: CHAOS_PIPELINE,
        label: 'Chaos pipeline',
        stages: CHAOS_STAGES.map((id, i) => ({
          id,
          label: `Chaos ${i + 1}`,
          ownerRole: 'care',
          sla: { target: `${8 + i}h`, basis: 'calendar', calendar: 'always' },
          ...(id === 'sk_chaos_intake'
            ? {
                requiredActions: [
                  { id: 'send_packet', subject: 'Send intake packet', type: 'EMAIL', dueAfter: '30m' },
                  { id: 'verify', subject: 'Verify identity', type: 'TODO', dueAfter: '4h' },
                ],
              }
            : {}),
        })),
      },
    ],
  });
}
