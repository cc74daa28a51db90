import React from 'react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRenderer, type RenderedElementNode } from '@hubspot/ui-extensions/testing';
import type { TableProps } from '@hubspot/ui-extensions';
import {
  BarChart,
  Button,
  DescriptionListItem,
  EmptyState,
  ErrorState,
  Heading,
  Select,
  Table,
  TableCell,
  TableRow,
  Text,
  TextArea,
  ToggleGroup,
} from '@hubspot/ui-extensions';
import { PageRouter } from './Pages.tsx';
import { Scorecard } from './Scorecard.tsx';
import { SERVICE_URL } from '@stagekeeper/app-client/config';
import { isoWeekMonday, weekLabel } from './lib/format.ts';
import { eventually, fakeFetch } from '@stagekeeper/app-client/fake-fetch';
import { scorecard } from './test/fixtures.ts';

// trigger() types its argument as the handler itself, so event values are cast.
const URL = `${SERVICE_URL}/api/scorecard`;

const cells = (table: RenderedElementNode<TableProps>) =>
  table
    .findAll(TableRow)
    .slice(1)
    .map((r) => r.findAll(TableCell).map((c) => c.text));

describe('Scorecard', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('renders the latest week per stage and per owner role, as a chart and tables', async () => {
    const t = createRenderer('pages');
    const fetch = fakeFetch(() => ({ body: scorecard() }));
    t.render(<Scorecard fetcher={fetch} />);
    await t.waitFor(() => expect(t.findByTestId(Table, 'by-stage')).toBeTruthy());

    expect(fetch.calls).toEqual([{ url: URL, method: 'GET' }]);
    expect(cells(t.findByTestId(Table, 'by-stage'))).toEqual([
      [
        'New referral (Telehealth intake)',
        '40',
        '2h 15m',
        '10%',
        '88%',
        '5%',
        '3%',
        '6',
        '26h',
        '2',
        'Capacity (3), Patient unreachable (1)',
      ],
      ['Clinical review (Telehealth intake)', '12', '30m', '–', '100%', '0%', '–', '0', '–', '0', '–'],
    ]);
    expect(cells(t.findByTestId(Table, 'by-role'))).toEqual([
      ['Intake coordinator', '40', '2h 15m', '10%', '88%', '5%', '–', '0', '–', '0', 'Capacity (3)'],
    ]);
    expect(cells(t.findByTestId(Table, 'by-Referring partner'))).toEqual([
      ['A81001', '7', '–', '–', '–', '–', '–', '0', '–', '0', '–'],
    ]);
    expect(t.find(BarChart).props.data).toEqual([
      { stage: 'New referral', series: 'Visits', count: 40 },
      { stage: 'New referral', series: 'Breached', count: 4 },
      { stage: 'Clinical review', series: 'Visits', count: 12 },
      { stage: 'Clinical review', series: 'Breached', count: 0 },
    ]);
    expect(t.find(Select).props.value).toBe('2026-W47');
    expect(t.find(Select).props.options.map((o) => o.value)).toEqual(['2026-W47', '2026-W46', '2026-W45']);
    expect(t.find(Select).props.options[0]!.label).toBe('2026-W47 (Nov 16 – Nov 22)');
  });

  it('refetches when another week is picked', async () => {
    const t = createRenderer('pages');
    const fetch = fakeFetch((call) => ({
      body: call.url.endsWith('week=2026-W46') ? scorecard('2026-W46', 2) : scorecard(),
    }));
    t.render(<Scorecard fetcher={fetch} />);
    await t.waitFor(() => expect(t.find(Select).props.value).toBe('2026-W47'));

    t.find(Select).trigger('onChange', '2026-W46' as never);
    await t.waitFor(() => expect(cells(t.findByTestId(Table, 'by-stage'))[0]![1]).toBe('80'));
    expect(fetch.calls.map((c) => c.url)).toEqual([URL, `${URL}?week=2026-W46`]);
    expect(t.find(Select).props.value).toBe('2026-W46');
  });

  it('the chart follows the week picker', async () => {
    const t = createRenderer('pages');
    const fetch = fakeFetch((call) => ({
      body: call.url.endsWith('week=2026-W46') ? scorecard('2026-W46', 2) : scorecard(),
    }));
    t.render(<Scorecard fetcher={fetch} />);
    await t.waitFor(() =>
      expect((t.find(BarChart).props.data as unknown[])[0]).toEqual({
        stage: 'New referral',
        series: 'Visits',
        count: 40,
      }),
    );
    t.find(Select).trigger('onChange', '2026-W46' as never);
    await t.waitFor(() =>
      expect(t.find(BarChart).props.options?.title).toBe('Visits and breaches by stage, 2026-W46'),
    );
    expect((t.find(BarChart).props.data as unknown[]).slice(0, 2)).toEqual([
      { stage: 'New referral', series: 'Visits', count: 80 },
      { stage: 'New referral', series: 'Breached', count: 8 },
    ]);
  });

  it('switches to the monthly review: asks for the latest month, then lists the months to browse', async () => {
    const t = createRenderer('pages');
    const month = {
      ...scorecard('2026-10'),
      period: 'month',
      weekStart: '2026-10-01',
      weekEnd: '2026-10-31',
      availableMonths: ['2026-11', '2026-10'],
    };
    const fetch = fakeFetch((call) => ({ body: call.url.includes('month=') ? month : scorecard() }));
    t.render(<Scorecard fetcher={fetch} />);
    await t.waitFor(() => expect(t.find(Select).props.value).toBe('2026-W47'));
    t.find(ToggleGroup).trigger('onChange', 'month' as never);
    await t.waitFor(() => expect(t.find(Select).props.value).toBe('2026-10'));
    expect(t.find(Select).props.label).toBe('Month');
    expect(t.find(Select).props.options.map((o) => o.value)).toEqual(['2026-10', '2026-11']);
    expect(t.find(Select).props.options[0]!.label).toBe('2026-10 (October)');
    expect(t.find(Heading).text).toBe('Monthly stage scorecard');
    t.find(Select).trigger('onChange', '2026-11' as never);
    await eventually(() =>
      expect(fetch.calls.map((c) => c.url)).toEqual([URL, `${URL}?month=`, `${URL}?month=2026-11`]),
    );
  });

  it('shows seed 003 and 004 intake metrics when the service sends the funnel', async () => {
    const t = createRenderer('pages');
    const funnel = {
      receivedStage: { id: 'r1', label: 'Referral Received' },
      received: 20,
      contacted: 18,
      contactRate: 0.9,
      firstTouchMedianMs: 6 * 60_000,
      firstTouchP90Ms: 9 * 60_000,
      incomplete: 5,
      incompleteRate: 0.25,
      appointmentsBooked: 11,
      closureReasons: [{ stage: { id: 'x', label: 'Referral Declined' }, reason: null, count: 2 }],
      reReferral: {
        property: 'referrer_ods_code',
        referrals: 20,
        decided: 10,
        reReferred: 4,
        rate: 0.4,
        pending: 8,
        noPartner: 2,
        partners: 6,
        partnersReferringAgain: 3,
      },
    };
    t.render(<Scorecard fetcher={fakeFetch(() => ({ body: { ...scorecard(), funnel } }))} />);
    await t.waitFor(() => expect(t.findAll(DescriptionListItem).length).toBeGreaterThan(0));
    const items = Object.fromEntries(
      t.findAll(DescriptionListItem).map((i) => [i.props.label, i.find(Text).text]),
    );
    expect(items).toMatchObject({
      'Received (Referral Received)': '20',
      'Contact rate': '90% (18 of 20)',
      'First touch, median / p90': '6m / 9m',
      'Incomplete rate': '25% (5 of 20)',
      'Appointments booked': '11',
      'Closure reasons': 'Referral Declined: none recorded (2)',
      'Re-referral within 30 days': '40% (4 of 10 decided, 8 pending; 3 of 6 partners)',
    });
  });

  it('exports the shown week as CSV in a read-only text area (the UI kit cannot save files)', async () => {
    const t = createRenderer('pages');
    const csv = 'week,scope\r\n2026-W47,total';
    const fetch = fakeFetch((call) => ({
      body: call.url.includes('format=csv')
        ? { week: '2026-W47', filename: 'stagekeeper-scorecard-2026-W47.csv', csv }
        : scorecard(),
    }));
    t.render(<Scorecard fetcher={fetch} />);
    await t.waitFor(() => expect(t.findByTestId(Table, 'by-stage')).toBeTruthy());
    expect(t.maybeFind(TextArea)).toBeNull();
    t.findByTestId(Button, 'export-csv').trigger('onClick');
    await t.waitFor(() => expect(t.find(TextArea).props.value).toBe(csv));
    expect(t.find(TextArea).props.readOnly).toBe(true);
    expect(t.find(TextArea).props.label).toContain('stagekeeper-scorecard-2026-W47.csv');
    expect(fetch.calls.map((c) => c.url)).toEqual([URL, `${URL}?week=2026-W47&format=csv`]);
  });

  it('shows an error state and retries the same week', async () => {
    let attempt = 0;
    const t = createRenderer('pages');
    const fetch = fakeFetch(() =>
      ++attempt === 1
        ? { status: 502, body: { error: { code: 'upstream', message: 'Report store unavailable' } } }
        : { body: scorecard() },
    );
    t.render(<Scorecard fetcher={fetch} />);
    await t.waitFor(() => expect(t.find(ErrorState).find(Text).text).toBe('Report store unavailable'));
    t.find(ErrorState).find(Button).trigger('onClick');
    await t.waitFor(() => expect(t.findByTestId(Table, 'by-stage')).toBeTruthy());
    expect(fetch.calls).toHaveLength(2);
  });

  it('says so when no stage visit ended in the week', async () => {
    const t = createRenderer('pages');
    t.render(
      <Scorecard fetcher={fakeFetch(() => ({ body: { ...scorecard(), byStage: [], byRole: [] } }))} />,
    );
    await t.waitFor(() => expect(t.find(EmptyState).props.title).toBe('No stage visits ended this week'));
    expect(t.maybeFind(BarChart)).toBeNull();
  });

  it('is the index page of the app pages router, calling hubspot.fetch', async () => {
    const hsFetch = vi.fn(async () => new Response(JSON.stringify(scorecard())));
    vi.stubGlobal('self', { hsFetch });
    const t = createRenderer('pages');
    t.render(<PageRouter />);
    await t.waitFor(() => expect(t.find(Heading).text).toBe('Weekly stage scorecard'));
    await eventually(() => expect(hsFetch).toHaveBeenCalledWith(URL, { method: 'GET' }));
  });
});

describe('ISO weeks', () => {
  it('finds the Monday of week 1 across a year boundary and of a 53rd week', () => {
    expect(isoWeekMonday('2026-W01')?.toISOString().slice(0, 10)).toBe('2025-12-29');
    expect(isoWeekMonday('2020-W53')?.toISOString().slice(0, 10)).toBe('2020-12-28');
    expect(isoWeekMonday('2026-W47')?.toISOString().slice(0, 10)).toBe('2026-11-16');
    expect(isoWeekMonday('last week')).toBeNull();
    expect(weekLabel('2026-W01')).toBe('2026-W01 (Dec 29 – Jan 4)');
  });
});
