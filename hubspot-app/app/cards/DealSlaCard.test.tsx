import React from 'react';
import { describe, expect, it } from 'vitest';
import { createRenderer } from '@hubspot/ui-extensions/testing';
import {
  Alert,
  Button,
  EmptyState,
  ErrorState,
  Heading,
  LoadingSpinner,
  ProgressBar,
  Select,
  Table,
  TableCell,
  TableRow,
  Tag,
  Text,
} from '@hubspot/ui-extensions';
import { DealSlaCard } from './DealSlaCard.tsx';
import { SERVICE_URL } from '@stagekeeper/app-client/config';
import type { CardView, CardSlaStatus } from '@stagekeeper/app-client/api';
import { deferred, eventually, fakeFetch } from '@stagekeeper/app-client/fake-fetch';
import { managed, sla, unmanaged } from './test/fixtures.ts';

// trigger() types its argument as the handler itself, so event values are cast.
const CARD_URL = `${SERVICE_URL}/api/card/deal/123`;

function setup(handler: Parameters<typeof fakeFetch>[0]) {
  const renderer = createRenderer('crm.record.tab');
  const fetch = fakeFetch(handler);
  return { ...renderer, fetch, show: () => renderer.render(<DealSlaCard fetcher={fetch} />) };
}

const serve = (view: CardView) => () => ({ body: view });

describe('DealSlaCard', () => {
  it('shows a spinner, then the stage, its accountable role and the SLA from the service', async () => {
    const reply = deferred<{ body: CardView }>();
    const t = setup(() => reply.promise);
    t.show();
    expect(t.find(LoadingSpinner).props.label).toBe('Loading SLA');
    await eventually(() => expect(t.fetch.calls).toEqual([{ url: CARD_URL, method: 'GET' }]));
    expect(t.find(LoadingSpinner)).toBeTruthy();

    reply.resolve({ body: managed() });
    await t.waitFor(() => expect(t.find(Heading).text).toBe('Intake review'));
    expect(t.findByTestId(Tag, 'owner-role').text).toBe('Intake nurse');
    expect(t.find(ProgressBar).props.value).toBe(25);
    expect(t.findByTestId(Text, 'sla-left').text).toBe('3h business time left');
    expect(t.maybeFind(LoadingSpinner)).toBeNull();
  });

  it.each<[CardSlaStatus, string, string]>([
    ['running', 'On track', 'success'],
    ['warning', 'At risk', 'warning'],
    ['breached', 'Breached', 'error'],
    ['paused', 'Paused', 'default'],
    ['met', 'Met', 'info'],
  ])('tags a %s clock as "%s"', async (status, label, variant) => {
    const t = setup(serve(managed({ sla: sla({ status }) })));
    t.show();
    await t.waitFor(() => expect(t.findByTestId(Tag, 'sla-status').text).toBe(label));
    expect(t.findByTestId(Tag, 'sla-status').props.variant).toBe(variant);
  });

  it('says how long a breached clock is overdue and why a paused one is paused', async () => {
    const t = setup(
      serve(
        managed({ sla: sla({ status: 'breached', elapsedMs: 4.5 * 3_600_000, remainingMs: -1_800_000 }) }),
      ),
    );
    t.show();
    await t.waitFor(() => expect(t.findByTestId(Text, 'sla-left').text).toBe('Overdue by 30m business time'));
    expect(t.find(ProgressBar).props.value).toBe(100);

    const p = setup(
      serve(
        managed({
          sla: sla({
            status: 'paused',
            pauseReason: 'Waiting on patient',
            pausedAt: '2026-11-24T18:00:00.000Z',
          }),
        }),
      ),
    );
    p.show();
    await p.waitFor(() =>
      expect(p.findByTestId(Text, 'sla-paused').text).toContain('Clock paused: Waiting on patient'),
    );
  });

  it("formats the due time in the viewer's HubSpot time zone, not the runtime's", async () => {
    const t = setup(serve(managed()));
    t.show();
    // 20:00Z on 24 Nov is 15:00 in New York (EST), the renderer's default portal zone.
    await t.waitFor(() => expect(t.findByTestId(Text, 'sla-due').text).toBe('Tue, Nov 24, 3:00 PM EST'));

    const sydney = setup(serve(managed()));
    sydney.mocks.context.portal.timezone = 'Australia/Sydney';
    sydney.show();
    // Same instant is already Wednesday 07:00 in Sydney (AEDT, UTC+11).
    await sydney.waitFor(() =>
      expect(sydney.findByTestId(Text, 'sla-due').text).toBe('Wed, Nov 25, 7:00 AM GMT+11'),
    );
  });

  it('lists each exit criterion as met or missing', async () => {
    const t = setup(serve(managed()));
    t.show();
    await t.waitFor(() => expect(t.findByTestId(Tag, 'criterion-0').text).toBe('Met'));
    expect(t.findByTestId(Tag, 'criterion-0').props.variant).toBe('success');
    expect(t.findByTestId(Tag, 'criterion-1').text).toBe('Missing');
    expect(t.findByTestId(Tag, 'criterion-1').props.variant).toBe('error');
    expect(t.find(Text, (n) => n.text === 'Documents received')).toBeTruthy();
    expect(t.maybeFind(Alert)).toBeNull();
  });

  it('explains a blocked move: what was missing and what to do', async () => {
    const gate = {
      status: 'blocked_reverted' as const,
      blockedFrom: { id: 'review', label: 'Intake review' },
      blockedTo: { id: 'scheduled', label: 'Visit scheduled' },
      movedTo: { id: 'review', label: 'Intake review' },
      at: '2026-11-24T16:00:00.000Z',
      missing: ['Documents received', 'Risk flag set'],
      remedy: 'Fill in the missing items, then move the deal to Visit scheduled again.',
    };
    const t = setup(serve(managed({ gate })));
    t.show();
    await t.waitFor(() => expect(t.find(Alert).props.title).toBe('Move to Visit scheduled was blocked'));
    expect(t.find(Alert).props.variant).toBe('warning');
    expect(t.findByTestId(Text, 'gate-missing').text).toBe(
      'Missing: Documents received, Risk flag set. The deal was moved to Intake review.',
    );
    expect(t.findByTestId(Text, 'gate-remedy').text).toBe(gate.remedy);
  });

  it('tells the rep what to do now: required actions (done, open with due time, overdue) and what the next move needs', async () => {
    const view = managed({
      requiredActions: [
        {
          id: 'quality_check',
          subject: 'Quality check of the intake chart',
          status: 'done',
          dueAt: '2026-11-24T16:00:00.000Z',
          overdue: false,
        },
        {
          id: 'route',
          subject: 'Route the chart packet to the clinical review queue',
          status: 'open',
          dueAt: '2026-11-24T18:00:00.000Z',
          overdue: false,
        },
        {
          id: 'late',
          subject: 'Call the patient back',
          status: 'open',
          dueAt: '2026-11-24T15:00:00.000Z',
          overdue: true,
        },
      ],
      nextMove: {
        to: { id: 'crq', label: 'Clinical Review Queue' },
        missing: ['Chart packet assigned', 'Risk flag set'],
      },
    });
    const t = setup(serve(view));
    t.show();
    await t.waitFor(() => expect(t.findByTestId(Tag, 'action-0').text).toBe('Done'));
    expect([1, 2].map((i) => t.findByTestId(Tag, `action-${i}`).text)).toEqual(['Open', 'Overdue']);
    expect(t.findByTestId(Tag, 'action-2').props.variant).toBe('error');
    expect(t.findByTestId(Text, 'action-due-1').text).toBe('due Tue, Nov 24, 1:00 PM EST');
    expect(t.maybeFindByTestId(Text, 'action-due-0')).toBeNull();
    expect(t.findAll(Heading).map((h) => h.text)).toContain('To move to Clinical Review Queue');
    expect(t.findByTestId(Tag, 'next-missing-1').text).toBe('Missing');
    expect(t.findAll(Text).map((x) => x.text)).toEqual(
      expect.arrayContaining(['Chart packet assigned', 'Risk flag set']),
    );
  });

  it('says when the next move has everything it needs, and shows no next move in a closed stage', async () => {
    const ready = setup(
      serve(managed({ nextMove: { to: { id: 'crq', label: 'Clinical Review Queue' }, missing: [] } })),
    );
    ready.show();
    await ready.waitFor(() =>
      expect(ready.findByTestId(Text, 'next-move-ready').text).toBe(
        'Everything Clinical Review Queue needs is in place.',
      ),
    );
    const closed = setup(serve(managed({ nextMove: null })));
    closed.show();
    await closed.waitFor(() => expect(closed.find(Heading).text).toBe('Intake review'));
    expect(
      closed
        .findAll(Heading)
        .map((h) => h.text ?? '')
        .some((h) => h.startsWith('To move to')),
    ).toBe(false);
    expect(closed.findByTestId(Text, 'no-required-actions')).toBeTruthy();
  });

  it('shows the breach history', async () => {
    const breaches = [
      {
        stage: { id: 'review', label: 'Intake review' },
        breachedAt: '2026-11-20T15:00:00.000Z',
        reason: 'capacity' as const,
        source: 'inferred' as const,
        entryId: '123:review:1',
        evidence: ["owner holds 31 open tasks in HubSpot, above the role's threshold of 25"],
        corrected: false,
      },
      {
        stage: { id: 'triage', label: 'Triage' },
        breachedAt: '2026-11-18T15:00:00.000Z',
        reason: null,
        source: null,
      },
    ];
    const t = setup(serve(managed({ breaches })));
    t.show();
    await t.waitFor(() => expect(t.find(Table)).toBeTruthy());
    const rows = t.find(Table).findAll(TableRow).slice(1);
    expect(rows.map((r) => r.findAll(TableCell).map((c) => c.text))).toEqual([
      [
        'Intake review',
        'Fri, Nov 20, 10:00 AM EST',
        'Capacity (inferred)',
        "owner holds 31 open tasks in HubSpot, above the role's threshold of 25",
        null,
      ],
      ['Triage', 'Wed, Nov 18, 10:00 AM EST', 'Not set', '-', '-'],
    ]);
  });

  it('corrects the reason of a past breach from the breach history', async () => {
    const past = {
      stage: { id: 'review', label: 'Intake review' },
      breachedAt: '2026-11-20T15:00:00.000Z',
      reason: 'handoff' as const,
      source: 'inferred' as const,
      entryId: '123:review:1',
      evidence: ['owner changed 1 time(s) during the visit'],
      corrected: false,
    };
    const after = managed({ breaches: [{ ...past, reason: 'capacity', source: 'manual', corrected: true }] });
    const t = setup((call) => ({ body: call.method === 'POST' ? after : managed({ breaches: [past] }) }));
    t.show();
    await t.waitFor(() => expect(t.find(Select, (n) => n.props.name === 'correct-0')).toBeTruthy());
    t.find(Select, (n) => n.props.name === 'correct-0').trigger('onChange', 'capacity' as never);
    await eventually(() => expect(t.mocks.actions.addAlert.callCount).toBe(1));
    expect(t.fetch.calls[1]).toEqual({
      url: `${CARD_URL}/breach-reason`,
      method: 'POST',
      body: { reason: 'capacity', entryId: '123:review:1' },
    });
    await t.waitFor(() => expect(t.find(TableCell, (c) => c.text === 'Capacity (corrected)')).toBeTruthy());
  });

  it('posts a corrected breach reason and confirms it with an alert', async () => {
    const breached = managed({
      sla: sla({ status: 'breached', remainingMs: -60_000, elapsedMs: 4 * 3_600_000 + 60_000 }),
      breachReason: {
        value: 'missing_data',
        source: 'inferred',
        evidence: ['exit criteria unmet at breach'],
      },
    });
    const after = managed({
      ...breached,
      breachReason: { value: 'capacity', source: 'manual', evidence: [] },
    });
    const t = setup((call) => ({ body: call.method === 'POST' ? after : breached }));
    t.show();
    await t.waitFor(() => expect(t.find(Select).props.value).toBe('missing_data'));

    t.find(Select).trigger('onChange', 'capacity' as never);
    await t.waitFor(() => expect(t.find(Select).props.value).toBe('capacity'));
    t.find(Button, (n) => n.text === 'Save reason').trigger('onClick');

    await eventually(() => expect(t.mocks.actions.addAlert.callCount).toBe(1));
    expect(t.fetch.calls[1]).toEqual({
      url: `${CARD_URL}/breach-reason`,
      method: 'POST',
      body: { reason: 'capacity' },
    });
    expect(t.mocks.actions.addAlert.calls[0]![0]).toEqual({
      type: 'success',
      message: 'Breach reason set to Capacity.',
    });
    await t.waitFor(() => expect(t.find(Text, (n) => n.text === 'Set by a rep')).toBeTruthy());
    expect(t.find(Select).props.value).toBe('capacity');
  });

  it('reports a rejected breach reason without losing the card', async () => {
    const breached = managed({ sla: sla({ status: 'breached', remainingMs: -60_000 }), breachReason: null });
    const t = setup((call) =>
      call.method === 'POST'
        ? {
            status: 409,
            body: { error: { code: 'no_breach', message: 'This stage visit has not breached.' } },
          }
        : { body: breached },
    );
    t.show();
    await t.waitFor(() => expect(t.find(Select)).toBeTruthy());
    expect(t.find(Button, (n) => n.text === 'Save reason').props.disabled).toBe(true);
    t.find(Select).trigger('onChange', 'handoff' as never);
    await t.waitFor(() => expect(t.find(Button, (n) => n.text === 'Save reason').props.disabled).toBe(false));
    t.find(Button, (n) => n.text === 'Save reason').trigger('onClick');
    await eventually(() => expect(t.mocks.actions.addAlert.callCount).toBe(1));
    expect(t.mocks.actions.addAlert.calls[0]![0]).toEqual({
      type: 'danger',
      title: 'Breach reason not saved',
      message: 'This stage visit has not breached.',
    });
    expect(t.find(Heading).text).toBe('Intake review');
  });

  it('shows an error state with the reason and recovers on retry', async () => {
    let attempt = 0;
    const t = setup(() =>
      ++attempt === 1
        ? { status: 503, body: { error: { code: 'unavailable', message: 'Stagekeeper is restarting' } } }
        : { body: managed() },
    );
    t.show();
    await t.waitFor(() =>
      expect(t.find(ErrorState).props.title).toBe('Could not load the SLA for this deal'),
    );
    expect(t.find(ErrorState).find(Text).text).toBe('Stagekeeper is restarting');

    t.find(ErrorState).find(Button).trigger('onClick');
    await t.waitFor(() => expect(t.find(Heading).text).toBe('Intake review'));
    expect(t.fetch.calls).toHaveLength(2);
  });

  it('shows an empty state when the deal is not in a managed pipeline', async () => {
    const t = setup(serve(unmanaged));
    t.show();
    await t.waitFor(() => expect(t.find(EmptyState).props.title).toBe('Not managed by Stagekeeper'));
    expect(t.find(EmptyState).find(Text).text).toBe(
      "This deal's pipeline is not managed by the Stagekeeper playbook.",
    );
    expect(t.maybeFind(ProgressBar)).toBeNull();
  });

  it('refetches when a stage, owner or checklist property is edited on the record, not on other edits', async () => {
    const t = setup(serve(managed()));
    t.show();
    await t.waitFor(() => expect(t.find(Heading).text).toBe('Intake review'));
    const [props, onUpdate] = t.mocks.actions.onCrmPropertiesUpdate.calls[0]!;
    expect(props).toBe('*');
    expect(t.mocks.actions.onCrmPropertiesUpdate.callCount).toBe(1);

    const base = { dealstage: 'review', hubspot_owner_id: '7', intake_summary: '', dealname: 'A' };
    onUpdate(base);
    expect(t.fetch.calls).toHaveLength(1);

    onUpdate({ ...base, dealname: 'B' });
    expect(t.fetch.calls).toHaveLength(1);

    onUpdate({ ...base, dealname: 'B', dealstage: 'scheduled' });
    await eventually(() => expect(t.fetch.calls).toHaveLength(2));

    onUpdate({ ...base, dealname: 'B', dealstage: 'scheduled', intake_summary: 'written' });
    await eventually(() => expect(t.fetch.calls).toHaveLength(3));
    expect(t.fetch.calls.every((c) => c.url === CARD_URL && c.method === 'GET')).toBe(true);
  });
});
