import { describe, expect, it } from 'vitest';
import { fixtureInput, fixturePlaybook, HOUR, MIN, MON_10, snap } from '../engine/fixtures';
import { reconcile } from '../engine/reconcile';
import { Playbook } from '../playbook/schema';
import { buildCardView, MAX_CARD_TRAIL, type ManagedCardView } from './card';

// Issue 11 items 3-4: the card shows event clocks, how the stage's work was routed, and the deal's trail.
describe('card: event clocks, routing and trail', () => {
  it('shows an event clock run, newest trail first, without property values', () => {
    const input = fixtureInput();
    input.clocks = [
      {
        id: 'refill_inputs',
        label: 'Refill follow-up on missing inputs',
        start: { property: 'refill_missing_input', on: 'set' },
        stopOn: [{ property: 'refill_missing_input', on: 'cleared' }],
        sla: { target: '24h', basis: 'calendar' },
      },
    ];
    const playbook = Playbook.parse(input);
    const first = reconcile({ playbook, state: null, snapshot: snap(), now: MON_10 }).state;
    const snapshot = snap({ properties: { refill_missing_input: 'secret_weight_value', urgency: 'urgent' } });
    const state = reconcile({ playbook, state: first, snapshot, now: MON_10 + MIN }).state;
    const card = buildCardView({
      dealId: 'd1',
      playbook,
      state,
      snapshot,
      now: MON_10 + 2 * MIN,
    }) as ManagedCardView;
    expect(card.eventClocks).toEqual([
      {
        id: 'refill_inputs',
        label: 'Refill follow-up on missing inputs',
        status: 'running',
        target: '1d',
        startedAt: new Date(MON_10 + MIN).toISOString(),
        dueAt: new Date(MON_10 + MIN + 24 * HOUR).toISOString(),
        warningAt: expect.any(String),
        breachedAt: null,
        stoppedAt: null,
        breachReason: null,
      },
    ]);
    expect(card.trail.map((t) => t.rule)).toEqual(['clock.started', 'sla.retargeted']);
    expect(JSON.stringify(card)).not.toContain('secret_weight_value');
  });

  it('lists an event clock breach from the history under the clock label', () => {
    const input = fixtureInput();
    input.clocks = [
      {
        id: 'support_inquiry',
        label: 'Support inquiry response',
        start: { property: 'support_inquiry_at', on: 'change' },
        stopOn: [{ property: 'support_inquiry_responded_at', on: 'change' }],
        sla: { target: '1h', basis: 'calendar' },
      },
    ];
    const playbook = Playbook.parse(input);
    const state = reconcile({ playbook, state: null, snapshot: snap(), now: MON_10 }).state;
    const row = {
      dealId: 'd1',
      pipeline: 'tele',
      stage: 'clock.support_inquiry',
      clock: 'support_inquiry',
      ownerRole: 'intake',
      ownerId: '101',
      enteredAt: MON_10,
      exitedAt: MON_10 + 2 * HOUR,
      businessMs: 2 * HOUR,
      toStage: null,
      direction: 'exit' as const,
      slaOutcome: 'breached' as const,
      breachReason: 'capacity' as const,
      breachedAt: MON_10 + HOUR,
      breachReasonSource: 'inferred' as const,
    };
    const card = buildCardView({
      dealId: 'd1',
      playbook,
      state,
      snapshot: snap(),
      history: [row],
      now: MON_10 + 3 * HOUR,
    }) as ManagedCardView;
    expect(card.breaches).toMatchObject([
      {
        stage: { id: 'clock.support_inquiry', label: 'Support inquiry response' },
        breachedAt: new Date(MON_10 + HOUR).toISOString(),
        reason: 'capacity',
        source: 'inferred',
      },
    ]);
  });

  it('shows the routing of the current stage and bounds the trail', () => {
    const playbook = fixturePlaybook((p) => {
      p.assignment = { policy: 'assignDeal' };
      p.pipelines[0]!.stages[0]!.exitCriteria = [];
      p.pipelines[0]!.shortcuts = [{ from: 'lead', to: 'review' }];
    });
    const first = reconcile({
      playbook,
      state: null,
      snapshot: snap({ ownerId: '101' }),
      now: MON_10,
    }).state!;
    const moved = snap({
      ownerId: '101',
      stage: 'review',
      stageEnteredAt: MON_10 + HOUR,
      properties: { docs_ok: 'true' },
    });
    const state = reconcile({ playbook, state: first, snapshot: moved, now: MON_10 + HOUR }).state!;
    state.trail = [
      ...Array.from({ length: 30 }, (_, i) => ({ at: MON_10 + i, rule: 'x', detail: String(i) })),
      ...state.trail!,
    ];
    const card = buildCardView({
      dealId: 'd1',
      playbook,
      state,
      snapshot: moved,
      now: MON_10 + HOUR,
    }) as ManagedCardView;
    expect(card.routing).toEqual({
      mode: 'assignDeal',
      from: '101',
      to: '201',
      pick: 'roundRobin',
      at: new Date(MON_10 + HOUR).toISOString(),
    });
    expect(card.trail).toHaveLength(MAX_CARD_TRAIL);
    expect(card.trail[0]!.rule).toBe('routing.deal_assigned');
  });
});
