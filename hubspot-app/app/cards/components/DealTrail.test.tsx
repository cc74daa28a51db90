import React from 'react';
import { describe, expect, it } from 'vitest';
import { createRenderer } from '@hubspot/ui-extensions/testing';
import { Heading, Tag, Text } from '@hubspot/ui-extensions';
import { DealSlaCard } from '../DealSlaCard.tsx';
import type { CardView } from '@stagekeeper/app-client/api';
import { fakeFetch } from '@stagekeeper/app-client/fake-fetch';
import { managed } from '../test/fixtures.ts';

// Issue 11 items 3-4 on the card: event clocks, the routing of the stage's work, and the deal's trail.
function show(view: CardView) {
  const renderer = createRenderer('crm.record.tab');
  renderer.render(<DealSlaCard fetcher={fakeFetch(() => ({ body: view }))} />);
  return renderer;
}

describe('DealTrail on the deal card', () => {
  it('shows event clocks, who the deal was handed to and the trail, newest first', async () => {
    const t = show(
      managed({
        eventClocks: [
          {
            id: 'support_inquiry',
            label: 'Support inquiry response',
            status: 'breached',
            target: '1h',
            startedAt: '2026-11-23T14:00:00.000Z',
            dueAt: '2026-11-23T15:00:00.000Z',
            warningAt: '2026-11-23T14:45:00.000Z',
            breachedAt: '2026-11-23T15:00:00.000Z',
            stoppedAt: null,
            breachReason: 'capacity',
          },
        ],
        routing: {
          mode: 'assignDeal',
          from: '52841907',
          to: '61230455',
          pick: 'roundRobin',
          at: '2026-11-23T14:00:00.000Z',
        },
        trail: [
          {
            at: '2026-11-23T15:00:00.000Z',
            rule: 'clock.breached',
            detail: 'Support inquiry response breached',
          },
          {
            at: '2026-11-23T14:00:00.000Z',
            rule: 'routing.deal_assigned',
            detail: 'Intake Started belongs to Intake Ops',
          },
        ],
      }),
    );
    await t.waitFor(() => expect(t.findByTestId(Tag, 'clock-support_inquiry').text).toBe('Breached'));
    expect(t.findByTestId(Text, 'routing').text).toContain(
      'Deal handed from owner 52841907 to 61230455 (in turn)',
    );
    expect(t.findAll(Heading).map((h) => h.text)).toEqual(expect.arrayContaining(['Event clocks', 'Trail']));
    expect(t.findByTestId(Text, 'trail-0').text).toContain('Support inquiry response breached');
    expect(t.findByTestId(Text, 'trail-1').text).toContain('Intake Started belongs to Intake Ops');
    expect(t.maybeFindByTestId(Text, 'trail-2')).toBeNull();
  });

  it('shows nothing extra for a service that sends none of it', async () => {
    const t = show(managed());
    await t.waitFor(() => expect(t.find(Heading).text).toBe('Intake review'));
    expect(t.maybeFindByTestId(Text, 'routing')).toBeNull();
    expect(t.findAll(Heading).map((h) => h.text)).not.toContain('Trail');
  });
});
