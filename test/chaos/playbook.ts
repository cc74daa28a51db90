import { Playbook } from '@stagekeeper/shared';

export const CHAOS_PIPELINE = 'sk_chaos';
/** The stages the workload moves deals between (the remediation stage is reached through the gate too). */
export const CHAOS_STAGES = [
  'sk_chaos_new',
  'sk_chaos_contacted',
  'sk_chaos_intake',
  'sk_chaos_review',
  'sk_chaos_booked',
  'sk_chaos_fix',
] as const;
export const CHAOS_OWNERS = ['61000001', '61000002'] as const;
export const CHAOS_LEAD = '61000000';
/** The gated stage: entering it needs CHAOS_READY set, else the deal goes to the remediation stage. */
export const CHAOS_GATED = 'sk_chaos_review';
export const CHAOS_REMEDIATION = 'sk_chaos_fix';
export const CHAOS_READY = 'chaos_ready';
/** Warning at half the window; the one escalation level at 150 %. */
export const CHAOS_WARNING_PCT = 50;
export const CHAOS_ESCALATION_PCT = 150;

/** SLA target of each stage in minutes: the run's clock is fast (test/chaos/run.ts), so these fire within seconds. */
export const chaosTargetMinutes = (i: number) => 2 + i;

/**
 * What may differ from the chaos run's playbook: the benchmarks (test/bench/playbook.ts) play the same stages with
 * SLAs long enough that no timer fires while they set up and measure a move. The defaults are the chaos run's.
 */
export type ChaosPlaybookOptions = { name?: string; targetMinutes?: (i: number) => number };

/**
 * Every stage has a short calendar-time SLA (minutes, on a clock running many times faster than real time), so
 * warnings, breaches and escalations fire during the run and under its faults. One stage is gated (entry needs a
 * property) with a remediation stage; one has task templates so multi-task creates and cancels are exercised.
 */
export function chaosPlaybook(opts: ChaosPlaybookOptions = {}): Playbook {
  const targetMinutes = opts.targetMinutes ?? chaosTargetMinutes;
  return Playbook.parse({
    schemaVersion: 1,
    name: opts.name ?? 'Chaos',
    version: 1,
    calendars: [{ id: 'always', timeZone: 'America/New_York', hours: '24/7' }],
    roles: [
      { id: 'care', name: 'Care team', owners: [...CHAOS_OWNERS], lead: CHAOS_LEAD, calendar: 'always' },
    ],
    pipelines: [
      {
        id: CHAOS_PIPELINE,
        label: 'Chaos pipeline',
        stages: CHAOS_STAGES.map((id, i) => ({
          id,
          label: `Chaos ${i + 1}`,
          ownerRole: 'care',
          sla: {
            target: `${targetMinutes(i)}m`,
            basis: 'calendar',
            calendar: 'always',
            warningAt: CHAOS_WARNING_PCT,
            escalations: [{ at: CHAOS_ESCALATION_PCT, actions: [{ type: 'taskForLead' }] }],
          },
          ...(id === CHAOS_GATED
            ? {
                entryCriteria: [{ op: 'present', property: CHAOS_READY }],
                gate: { onBlocked: 'remediate', stage: CHAOS_REMEDIATION },
              }
            : {}),
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
