import React from 'react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRenderer, type RenderedElementNode } from '@hubspot/ui-extensions/testing';
import type { TableProps } from '@hubspot/ui-extensions';
import { BarChart, Button, EmptyState, ErrorState, Heading, Select, Table, TableCell, TableRow, Text } from '@hubspot/ui-extensions';
import { PageRouter } from './Pages.tsx';
import { Scorecard } from './Scorecard.tsx';
import { SERVICE_URL } from './lib/config.ts';
import { isoWeekMonday, weekLabel } from './lib/format.ts';
import { eventually, fakeFetch } from './test/fakeFetch.ts';
import { scorecard } from './test/fixtures.ts';

// trigger() types its argument as the handler itself, so event values are cast.
const URL = `${SERVICE_URL}/api/scorecard`;

const cells = (table: RenderedElementNode<TableProps>) =>
  table.findAll(TableRow).slice(1).map((r) => r.findAll(TableCell).map((c) => c.text));

describe('Scorecard', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('renders the latest week per stage and per owner role, as a chart and tables', async () => {
    const t = createRenderer('pages');
    const fetch = fakeFetch(() => ({ body: scorecard() }));
    t.render(<Scorecard fetcher={fetch} />);
    await t.waitFor(() => expect(t.findByTestId(Table, 'by-stage')).toBeTruthy());

    expect(fetch.calls).toEqual([{ url: URL, method: 'GET' }]);
    expect(cells(t.findByTestId(Table, 'by-stage'))).toEqual([
      ['New referral (Telehealth intake)', '40', '2h 15m', '10%', '88%', '5%', '3%', '6', '26h', '2', 'Capacity (3), Patient unreachable (1)'],
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
    const fetch = fakeFetch((call) =>
      ({ body: call.url.endsWith('week=2026-W46') ? scorecard('2026-W46', 2) : scorecard() }),
    );
    t.render(<Scorecard fetcher={fetch} />);
    await t.waitFor(() => expect(t.find(Select).props.value).toBe('2026-W47'));

    t.find(Select).trigger('onChange', '2026-W46' as never);
    await t.waitFor(() => expect(cells(t.findByTestId(Table, 'by-stage'))[0]![1]).toBe('80'));
    expect(fetch.calls.map((c) => c.url)).toEqual([URL, `${URL}?week=2026-W46`]);
    expect(t.find(Select).props.value).toBe('2026-W46');
  });

  it('shows an error state and retries the same week', async () => {
    let attempt = 0;
    const t = createRenderer('pages');
    const fetch = fakeFetch(() =>
      ++attempt === 1 ? { status: 502, body: { error: { code: 'upstream', message: 'Report store unavailable' } } } : { body: scorecard() },
    );
    t.render(<Scorecard fetcher={fetch} />);
    await t.waitFor(() => expect(t.find(ErrorState).find(Text).text).toBe('Report store unavailable'));
    t.find(ErrorState).find(Button).trigger('onClick');
    await t.waitFor(() => expect(t.findByTestId(Table, 'by-stage')).toBeTruthy());
    expect(fetch.calls).toHaveLength(2);
  });

  it('says so when no stage visit ended in the week', async () => {
    const t = createRenderer('pages');
    t.render(<Scorecard fetcher={fakeFetch(() => ({ body: { ...scorecard(), byStage: [], byRole: [] } }))} />);
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
