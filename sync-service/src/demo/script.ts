import type { Playbook } from '@stagekeeper/shared';
import type { SandboxPortal } from '@stagekeeper/test/sandbox/index';
import { TELEHEALTH } from './playbook';

const S = TELEHEALTH.stages;

/** What a step can do: the portal's UI (as a rep), the deal it works on, and the clock to stamp values with. */
export type StepContext = {
  portal: SandboxPortal;
  dealId: string;
  now: () => number;
  actor: { userId: number };
};

export type Step = {
  /** Demo minutes after the start of the demo. */
  atMin: number;
  /** Performs the rep's action and says what the rep did (no property values: names and intake details stay out). */
  run: (ctx: StepContext) => string;
};

export type Scenario = {
  name: string;
  /** What the evaluator should expect, printed when the deal is created. */
  expect: string;
  ownerId: string;
  startMin: number;
  /** Stage the deal is created in (a deal imported mid-journey is taken as it is); New Lead when omitted. */
  stage?: string;
  /** Extra deal properties at creation (flags only: the demo invents no patient details). */
  create?: (now: number) => Record<string, string>;
  steps: Step[];
};

const contactAndMove =
  (to: string, label: string) =>
  ({ portal, dealId, actor }: StepContext): string => {
    portal.ui.logContactAttempt(dealId, actor);
    portal.ui.moveDeal(dealId, to, actor);
    return `rep logged a contact attempt and moved the deal to ${label}`;
  };

/**
 * The demo's deals, timed in demo minutes on the canonical telehealth playbook (New Lead: 15 minutes, 5 for urgent
 * leads, warning at 75 %, a task for the lead at 100 % and a hand-over to the lead at 200 %). Between them they show
 * an SLA met, a warning, breaches with escalation, a reverted move and a remediation routing.
 */
export function demoScenarios(playbook: Playbook): Scenario[] {
  const growth = playbook.roles.find((r) => r.id === 'growth_ops') ?? playbook.roles[0]!;
  const [repA, repB = repA] = growth.owners as [string, string?];
  const lead = growth.lead;
  // Intake Completed belongs to Intake Ops (seed 000's owner model), so its deal is an intake coordinator's.
  const intakeRep = playbook.roles.find((r) => r.id === 'intake_ops')?.owners[0] ?? repB!;
  return [
    {
      name: 'answered in time',
      expect: 'contacted after 4 of its 15 minutes: SLA met',
      ownerId: repA,
      startMin: 0,
      steps: [{ atMin: 4, run: contactAndMove(S.contactAttempted, 'Contact Attempted') }],
    },
    {
      name: 'gate',
      expect: 'moved on before any contact attempt: the gate reverts it',
      ownerId: repB!,
      startMin: 1,
      steps: [
        {
          atMin: 3,
          run: ({ portal, dealId, actor }) => {
            portal.ui.moveDeal(dealId, S.contactAttempted, actor);
            return 'rep moved the deal to Contact Attempted without logging a contact attempt';
          },
        },
        { atMin: 7, run: contactAndMove(S.contactAttempted, 'Contact Attempted') },
      ],
    },
    {
      name: 'late but in time',
      expect: 'contacted after 12.5 of its 15 minutes: warned first, then met',
      ownerId: repA,
      startMin: 2,
      steps: [{ atMin: 14.5, run: contactAndMove(S.contactAttempted, 'Contact Attempted') }],
    },
    {
      name: 'urgent, neglected',
      expect:
        'an urgent lead (5 minutes) nobody calls: warning, breach, task for the lead, then hand-over to the lead',
      ownerId: repB!,
      startMin: 3,
      create: () => ({ urgency: 'urgent' }),
      steps: [
        {
          atMin: 16,
          run: (ctx) =>
            `the lead takes over: ${contactAndMove(S.contactAttempted, 'Contact Attempted')({ ...ctx, actor: { userId: Number(lead) } })}`,
        },
      ],
    },
    {
      name: 'remediation',
      expect:
        'an intake sent to clinical review without its summary, documents and risk flag: routed to Intake Remediation',
      ownerId: intakeRep,
      startMin: 5,
      // Taken over mid-journey: Intake Completed, its chart packet ready and assigned (what the stage's exit asks).
      stage: S.intakeCompleted,
      create: (now) => ({
        intake_form_submitted_at: String(now),
        chart_packet_ready: 'true',
        chart_packet_assignee_id: intakeRep,
      }),
      steps: [
        {
          atMin: 9,
          run: ({ portal, dealId, actor }) => {
            portal.ui.moveDeal(dealId, S.clinicalReview, actor);
            return 'rep moved the deal to Clinical Review Queue before the chart was complete';
          },
        },
      ],
    },
    {
      name: 'neglected',
      expect: 'a lead nobody calls: warning at 11 minutes, breach at 15, hand-over to the lead at 30',
      ownerId: repA,
      startMin: 6,
      steps: [
        {
          atMin: 40,
          run: (ctx) =>
            `the lead takes over: ${contactAndMove(S.contactAttempted, 'Contact Attempted')({ ...ctx, actor: { userId: Number(lead) } })}`,
        },
      ],
    },
  ];
}

/** Demo minute at which the last step runs. */
export const scriptLength = (scenarios: Scenario[]) =>
  Math.max(...scenarios.flatMap((s) => [s.startMin, ...s.steps.map((t) => t.atMin)]));
