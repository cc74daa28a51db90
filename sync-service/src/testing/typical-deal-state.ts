import { DealState } from '@stagekeeper/shared';

/**
 * A deal state as a stage move stores it (captured from the chaos playbook through the whole stack): one running
 * SLA with warning, breach and escalation timers and one task. Storage-size tests measure against it.
 */
export function typicalDealState(dealId = '40000000020'): DealState {
  const entry = `${dealId}:sk_chaos_contacted:1795910895273`;
  return DealState.parse({
    dealId,
    playbookVersion: 1,
    current: {
      entryId: entry,
      pipeline: 'sk_chaos',
      stage: 'sk_chaos_contacted',
      enteredAt: 1795910895273,
      ownerRole: 'care',
      ownerAtEntry: '61000002',
      sla: {
        basis: 'calendar',
        calendar: 'always',
        targetMs: 180000,
        targetRule: 'default',
        status: 'running',
        originalDueAt: 1795911075273,
        dueAt: 1795911075273,
        warningAt: 1795910985273,
        consumedMs: 0,
        runningSince: 1795910895273,
        pausedAt: null,
        warned: false,
        breachedAt: null,
        levelsFired: [],
        metAt: null,
        timers: [
          { timerId: `${entry}:warning`, fireAt: 1795910985273 },
          { timerId: `${entry}:breach`, fireAt: 1795911075273 },
          { timerId: `${entry}:level:0`, fireAt: 1795911165273 },
        ],
      },
      tasks: [{ key: `${entry}:sla`, kind: 'sla' }],
      ownerChanges: [],
      contactAttemptsAtEntry: 0,
      breachReason: null,
      breachReasonSource: null,
      breachEvidence: [],
      enteredAtSource: 'hubspot',
      aliasEnteredAt: [],
      inputs: { props: {}, held: {} },
      pauseSeen: [],
    },
    lastOwnerId: '61000002',
    breachCount: 0,
    backflowCount: 0,
    gate: {
      status: 'clear',
      missing: [],
      blockedFrom: null,
      blockedTo: null,
      pendingStage: null,
      at: null,
      blockedEnteredAt: null,
      taskKey: null,
    },
    closedReason: null,
    seenEnteredAt: 1795910895273,
    pendingOwner: null,
    lastBreachEntryId: null,
  });
}
