import React from 'react';
import { describe, expect, it } from 'vitest';
import { createRenderer } from '@hubspot/ui-extensions/testing';
import { Heading, Table, TableCell, Tag, Text } from '@hubspot/ui-extensions';
import { DealSlaCard } from './DealSlaCard.tsx';
import type { CardView, CardPage } from '@stagekeeper/app-client/api';
import { fakeFetch } from '@stagekeeper/app-client/fake-fetch';
import { managed } from './test/fixtures.ts';

// The card's "Escalation pages" section (issue 17): the view's `pages` field, rendered through the real card.

function show(view: CardView, timeZone?: string) {
  const renderer = createRenderer('crm.record.tab');
  if (timeZone) renderer.mocks.context.portal.timezone = timeZone;
  renderer.render(<DealSlaCard fetcher={fakeFetch(() => ({ body: view }))} />);
  return renderer;
}

const page = (over: Partial<CardPage> = {}): CardPage => ({
  level: 1,
  stage: 'Intake Completed',
  channel: 'ops-slack',
  status: 'sent',
  at: '2026-11-24T20:00:00.000Z',
  detail: null,
  ...over,
});

const headings = (t: ReturnType<typeof createRenderer>) => t.findAll(Heading).map((h) => h.text);

describe('DealSlaCard escalation pages', () => {
  it('lists each page with its level, stage, channel, status and when, in the portal time zone', async () => {
    const t = show(
      managed({
        pages: [
          page(),
          page({
            level: 2,
            channel: 'pd',
            status: 'failed',
            detail: 'channel_not_found',
            at: '2026-11-24T21:30:00.000Z',
          }),
          page({ level: 3, channel: null, status: 'no_channel' }),
          page({ status: 'resolved', detail: 'stage_left' }),
          page({ status: 'held' }),
        ],
      }),
    );
    await t.waitFor(() => expect(headings(t)).toContain('Escalation pages'));
    // Five cells a row: level and stage are plain text, the rest carry test ids.
    const cells = t.findAll(TableCell).map((c) => c.text);
    expect(cells.slice(0, 2)).toEqual(['L1', 'Intake Completed']);
    expect(t.findByTestId(Text, 'page-channel-0').text).toBe('ops-slack');
    expect(t.findByTestId(Tag, 'page-status-0').text).toBe('Sent');
    expect(t.findByTestId(Tag, 'page-status-0').props.variant).toBe('success');
    expect(t.findByTestId(Text, 'page-at-0').text).toBe('Tue, Nov 24, 3:00 PM EST');

    expect(cells.slice(5, 7)).toEqual(['L2', 'Intake Completed']);
    expect(t.findByTestId(Tag, 'page-status-1').text).toBe('Failed');
    expect(t.findByTestId(Tag, 'page-status-1').props.variant).toBe('error');
    expect(t.findByTestId(Text, 'page-detail-1').text).toBe('channel not found');
    expect(t.findByTestId(Text, 'page-at-1').text).toBe('Tue, Nov 24, 4:30 PM EST');

    expect(t.findByTestId(Text, 'page-channel-2').text).toBe('None');
    expect(t.findByTestId(Tag, 'page-status-2').text).toBe('HubSpot task only');
    expect(t.findByTestId(Tag, 'page-status-3').text).toBe('Resolved');
    expect(t.findByTestId(Text, 'page-detail-3').text).toBe('stage left');
    expect(t.findByTestId(Tag, 'page-status-4').text).toBe('Held for staffed hours');
    expect(t.maybeFindByTestId(Text, 'page-detail-0')).toBeNull();
  });

  it("formats when in the viewer's HubSpot time zone", async () => {
    const t = show(managed({ pages: [page()] }), 'Europe/Berlin');
    await t.waitFor(() => expect(t.findByTestId(Text, 'page-at-0').text).toBe('Tue, Nov 24, 9:00 PM GMT+1'));
  });

  it('says so when no escalation has paged, and shows no section when the service sends no pages field', async () => {
    const none = show(managed({ pages: [] }));
    await none.waitFor(() => expect(headings(none)).toContain('Escalation pages'));
    expect(none.findByTestId(Text, 'no-pages').text).toBe('No escalation has paged a lead on this deal.');

    const absent = show(managed());
    await absent.waitFor(() => expect(headings(absent)).toContain('Breach history'));
    expect(headings(absent)).not.toContain('Escalation pages');
    expect(absent.findAll(Table)).toHaveLength(0);
  });
});
