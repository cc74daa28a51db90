import React from 'react';
import { describe, expect, it } from 'vitest';
import { createRenderer } from '@hubspot/ui-extensions/testing';
import { Alert, BarChart, Button, Select, TableCell, Text } from '@hubspot/ui-extensions';
import { createServiceClient } from '@stagekeeper/app-client/service';
import type { WhatIfReport } from '../lib/whatif.ts';
import { fakeFetch, type Call } from '@stagekeeper/app-client/fake-fetch';
import { playbook } from '../test/fixtures.ts';
import { WhatIfPreview } from './WhatIfPreview.tsx';

const BASE = 'https://stagekeeper.example.com';
const side = (breached: number, slaVisits: number) => ({
  slaVisits,
  breached,
  breachRate: breached / slaVisits,
  warningsPerWeek: 1,
  escalationsPerWeek: 0.5,
  tasksPerWeek: 3,
  unknown: 0,
});
const metrics = { visits: 3, current: side(2, 3), draft: side(1, 3), medianDueShiftMs: 600_000, flips: 1 };
const report: WhatIfReport = {
  weeks: 4,
  from: '2026-10-26T14:00:00.000Z',
  to: '2026-11-23T14:00:00.000Z',
  currentVersion: 3,
  draftVersion: 4,
  byStage: [
    { pipeline: { id: 'p', label: 'Telehealth' }, stage: { id: 's1', label: 'New lead' }, ...metrics },
  ],
  byRole: [{ role: { id: 'growth', name: 'Growth' }, ...metrics }],
  totals: metrics,
  flipped: [{ dealId: '9001', stage: 's1', enteredAt: 1, from: 'breached', to: 'met' }],
  flipsTotal: 1,
  repair: {
    deals: 1,
    byStage: [
      {
        stage: { id: 's1', label: 'New lead' },
        deals: 1,
        moved: 1,
        unknown: 0,
        removed: 0,
        added: 0,
        medianShiftMs: 600_000,
        minShiftMs: 600_000,
        maxShiftMs: 600_000,
      },
    ],
    moves: [{ dealId: '9002', stage: 's1', fromDueAt: 0, toDueAt: 600_000 }],
  },
};

function setup(reply: (call: Call) => { status?: number; body: unknown }) {
  const renderer = createRenderer('settings');
  const fetch = fakeFetch(reply);
  const draft = playbook();
  renderer.render(<WhatIfPreview client={createServiceClient(BASE, fetch)} draft={draft} disabled={false} />);
  const preview = () => renderer.find(Button, (n) => n.text === 'Preview impact');
  return { ...renderer, fetch, draft, preview };
}

describe('WhatIfPreview', () => {
  it('posts the draft with the chosen weeks and shows the chart, the flips (ids only) and the repair preview', async () => {
    const t = setup(() => ({ body: report }));
    t.find(Select, { name: 'whatif-weeks' }).trigger('onChange', 8 as never);
    t.preview().trigger('onClick');
    await t.waitFor(() =>
      expect(t.findByTestId(Text, 'whatif-flips').text).toContain('9001 (breached → met)'),
    );
    expect(t.fetch.calls).toEqual([
      { url: `${BASE}/api/settings/whatif`, method: 'POST', body: { playbook: t.draft, weeks: 8 } },
    ]);
    const chart = t.find(BarChart);
    expect(chart.props.data).toEqual([
      { stage: 'New lead', playbook: 'In force', breachRate: 66.7 },
      { stage: 'New lead', playbook: 'Draft', breachRate: 33.3 },
    ]);
    expect(t.findByTestId(Text, 'whatif-summary').text).toContain(
      'breach rate 66.7% now, 33.3% with the draft; 1 outcome would flip',
    );
    // The median due shift of the stage and the repair preview's move, both +10 minutes.
    expect(t.findAll(TableCell).filter((n) => n.text === '+10m')).toHaveLength(4);
  });

  it('says why when the service refuses the draft', async () => {
    const t = setup(() => ({
      status: 400,
      body: { error: { code: 'invalid_playbook', message: 'The draft has 1 problem.', issues: [] } },
    }));
    t.preview().trigger('onClick');
    await t.waitFor(() => expect(t.find(Alert).text).toContain('The draft has 1 problem.'));
  });
});
