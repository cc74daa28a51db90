import React from 'react';
import { describe, expect, it } from 'vitest';
import { createRenderer } from '@hubspot/ui-extensions/testing';
import { Alert, Button, Heading, Tag, Text } from '@hubspot/ui-extensions';
import { DealSlaCard } from './DealSlaCard.tsx';
import type { CardAction } from '@stagekeeper/app-client/api';
import { fakeFetch } from '@stagekeeper/app-client/fake-fetch';
import { managed } from './test/fixtures.ts';

// Issue 18: during a bulk move the service answers from what it has (a recent HubSpot read, or its saved state
// alone) instead of keeping the rep waiting; the card must say so, and never show unknown items as missing.
const NOW = Date.parse('2026-11-24T16:00:00.000Z');

function setup(handler: Parameters<typeof fakeFetch>[0]) {
  const renderer = createRenderer('crm.record.tab');
  const fetch = fakeFetch(handler);
  return {
    ...renderer,
    fetch,
    show: () => renderer.render(<DealSlaCard fetcher={fetch} now={() => NOW} />),
  };
}

const actions: CardAction[] = [
  {
    id: 'a1',
    subject: 'Call the patient',
    status: 'done',
    dueAt: '2026-11-24T15:00:00.000Z',
    overdue: false,
  },
];

describe('DealSlaCard freshness', () => {
  it('a live answer shows no notice', async () => {
    const t = setup(() => ({
      body: managed({ freshness: { source: 'live', asOf: new Date(NOW).toISOString() } }),
    }));
    t.show();
    await t.waitFor(() => expect(t.find(Heading).text).toBe('Intake review'));
    expect(t.maybeFind(Alert)).toBeNull();
    expect(t.findByTestId(Tag, 'criterion-1').text).toBe('Missing');
  });

  it("a recent read says how old HubSpot's values are; the checklist is that read's", async () => {
    const asOf = new Date(NOW - 2 * 60_000).toISOString();
    const t = setup(() => ({ body: managed({ freshness: { source: 'recent', asOf } }) }));
    t.show();
    await t.waitFor(() => expect(t.find(Alert).props.title).toBe('HubSpot is busy'));
    expect(t.findByTestId(Text, 'freshness').text).toBe(
      "Showing HubSpot's values as Stagekeeper read them 2 min ago. SLA timers are up to date.",
    );
    expect(t.findByTestId(Tag, 'criterion-0').text).toBe('Met');
    expect(t.findByTestId(Tag, 'criterion-1').text).toBe('Missing');
  });

  it('the saved state alone: says so, and shows checklist and tasks as not checked, never missing', async () => {
    const t = setup(() => ({
      body: managed({ requiredActions: actions, freshness: { source: 'saved', asOf: null } }),
    }));
    t.show();
    await t.waitFor(() => expect(t.find(Alert).props.title).toBe('HubSpot is busy'));
    expect(t.findByTestId(Text, 'freshness').text).toContain("Showing Stagekeeper's saved state");
    expect(t.findByTestId(Text, 'freshness').text).toContain(
      'SLA timers and the stage contract are up to date',
    );
    for (const id of ['criterion-0', 'criterion-1', 'action-0']) {
      expect(t.findByTestId(Tag, id).text).toBe('Not checked');
      expect(t.findByTestId(Tag, id).props.variant).toBe('default');
    }
    // The SLA is Stagekeeper's own and shown as usual.
    expect(t.findByTestId(Text, 'sla-left').text).toBe('3h business time left');
  });

  it('"Check again" asks the service again and the notice goes once HubSpot answers live', async () => {
    let n = 0;
    const t = setup(() => ({
      body: managed({
        freshness:
          ++n === 1 ? { source: 'saved', asOf: null } : { source: 'live', asOf: new Date(NOW).toISOString() },
      }),
    }));
    t.show();
    await t.waitFor(() => expect(t.find(Alert).props.title).toBe('HubSpot is busy'));
    t.findByTestId(Button, 'freshness-refresh').trigger('onClick');
    await t.waitFor(() => expect(t.maybeFind(Alert)).toBeNull());
    expect(t.fetch.calls).toHaveLength(2);
    expect(t.findByTestId(Tag, 'criterion-0').text).toBe('Met');
  });
});
