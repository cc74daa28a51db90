import React, { useCallback, useEffect, useRef, useState } from 'react';
import {
  BarChart,
  Button,
  EmptyState,
  ErrorState,
  Flex,
  Heading,
  LoadingSpinner,
  Select,
  Text,
  TextArea,
  ToggleGroup,
  hubspot,
} from '@hubspot/ui-extensions';
import { FunnelList } from './components/FunnelList.tsx';
import { MetricsTable } from './components/MetricsTable.tsx';
import { SERVICE_URL } from '@stagekeeper/app-client/config';
import { monthLabel, weekLabel } from './lib/format.ts';
import { createServiceClient, type FetchLike } from '@stagekeeper/app-client/service';
// Namespaced: this file's component is also called Scorecard.
import type * as Api from '@stagekeeper/app-client/api';

type State =
  { kind: 'loading' } | { kind: 'error'; message: string } | { kind: 'ready'; data: Api.Scorecard };
type Period = 'week' | 'month';
type Csv =
  | { kind: 'none' }
  | { kind: 'loading' }
  | { kind: 'error'; message: string }
  | { kind: 'ready'; data: Api.ScorecardCsv };

/** The query of one period: a month given as "" asks the service for the latest complete one. */
const periodQuery = (period: Period, value: string | undefined) =>
  period === 'month' ? { month: value ?? '' } : { week: value };

/** One bar pair per stage: how many visits ended there, and how many of them breached. */
export function chartData(rows: Api.ScorecardStageRow[]) {
  return rows.flatMap((r) => [
    { stage: r.stage.label, series: 'Visits', count: r.volume },
    { stage: r.stage.label, series: 'Breached', count: r.breached },
  ]);
}

const dimensionLabels = (d: Api.Scorecard) => [
  ...new Set((d.byDimension ?? []).map((r) => r.dimension.label)),
];

export const Scorecard = ({ fetcher = hubspot.fetch }: { fetcher?: FetchLike }) => {
  const client = useRef(createServiceClient(SERVICE_URL, fetcher)).current;
  // Weekly review by default, the monthly one on demand (seed 003: weekly pipeline review, monthly audit).
  const [period, setPeriod] = useState<Period>('week');
  // Undefined asks the service for its default: the latest complete week (or month).
  const [week, setWeek] = useState<string | undefined>(undefined);
  const [state, setState] = useState<State>({ kind: 'loading' });
  const [csv, setCsv] = useState<Csv>({ kind: 'none' });
  const seq = useRef(0);

  const load = useCallback(
    async (p: Period, w: string | undefined) => {
      const mine = ++seq.current;
      setState({ kind: 'loading' });
      setCsv({ kind: 'none' });
      try {
        const data = await client.get<Api.Scorecard>('/api/scorecard', periodQuery(p, w));
        // Flipping weeks quickly must not let an older answer overwrite the newer one.
        if (mine === seq.current) setState({ kind: 'ready', data });
      } catch (e) {
        if (mine === seq.current)
          setState({ kind: 'error', message: e instanceof Error ? e.message : 'Unknown error' });
      }
    },
    [client],
  );

  useEffect(() => {
    void load(period, week);
  }, [load, period, week]);

  const shownWeek = state.kind === 'ready' ? state.data.week : week;
  const weeks =
    state.kind === 'ready'
      ? period === 'month'
        ? (state.data.availableMonths ?? [])
        : state.data.availableWeeks
      : [];
  const options = [...new Set([...(shownWeek ? [shownWeek] : []), ...weeks])].map((w) => ({
    value: w,
    label: period === 'month' ? monthLabel(w) : weekLabel(w),
  }));

  // The UI kit cannot save a file (extensions run in a sandbox with no DOM, and a plain link to the service would
  // not carry HubSpot's signature), so the export is the CLI's CSV in a read-only text area, to select and copy.
  const exportCsv = async () => {
    const mine = seq.current;
    setCsv({ kind: 'loading' });
    try {
      const data = await client.get<Api.ScorecardCsv>('/api/scorecard', {
        ...periodQuery(period, shownWeek),
        format: 'csv',
      });
      if (mine === seq.current) setCsv({ kind: 'ready', data });
    } catch (e) {
      if (mine === seq.current)
        setCsv({ kind: 'error', message: e instanceof Error ? e.message : 'Unknown error' });
    }
  };

  return (
    <Flex direction="column" gap="md">
      <Flex direction="row" gap="md" align="end">
        <Heading>{period === 'month' ? 'Monthly stage scorecard' : 'Weekly stage scorecard'}</Heading>
        <ToggleGroup
          toggleType="radioButtonList"
          name="period"
          label="Review"
          inline
          value={period}
          options={[
            { value: 'week', label: 'Weekly' },
            { value: 'month', label: 'Monthly' },
          ]}
          onChange={(v) => {
            setPeriod(v === 'month' ? 'month' : 'week');
            setWeek(undefined);
          }}
        />
        <Select
          label={period === 'month' ? 'Month' : 'Week'}
          name="week"
          options={options}
          value={shownWeek}
          onChange={(v) => setWeek(String(v))}
        />
      </Flex>
      {state.kind === 'loading' && <LoadingSpinner label="Loading scorecard" layout="centered" />}
      {state.kind === 'error' && (
        <ErrorState title="Could not load the scorecard">
          <Text>{state.message}</Text>
          <Button onClick={() => void load(period, week)}>Try again</Button>
        </ErrorState>
      )}
      {state.kind === 'ready' && state.data.byStage.length === 0 && (
        <EmptyState title={`No stage visits ended this ${period}`} imageName="emptyStateCharts">
          <Text>Pick another {period}, or check back once deals have moved through a managed pipeline.</Text>
        </EmptyState>
      )}
      {state.kind === 'ready' && state.data.byStage.length > 0 && (
        <Flex direction="column" gap="md">
          <Text variant="microcopy">
            {state.data.weekStart} to {state.data.weekEnd}, {state.data.timeZone}. Times are business time on
            each stage's SLA calendar.
          </Text>
          <BarChart
            data={chartData(state.data.byStage)}
            axes={{
              x: { field: 'stage', fieldType: 'category', label: 'Stage' },
              y: { field: 'count', fieldType: 'linear', label: 'Stage visits' },
              options: { groupFieldByColor: 'series', colors: { Visits: 'blue', Breached: 'orange' } },
            }}
            options={{
              title: `Visits and breaches by stage, ${shownWeek ?? ''}`,
              showLegend: true,
              showTooltips: true,
            }}
          />
          {state.data.funnel && (
            <Flex direction="column" gap="sm">
              <Heading>Intake funnel</Heading>
              <FunnelList funnel={state.data.funnel} />
            </Flex>
          )}
          <Heading>By stage</Heading>
          <MetricsTable
            testId="by-stage"
            groupLabel="Stage"
            rows={state.data.byStage.map((r) => ({
              ...r,
              key: `${r.pipeline.id}/${r.stage.id}`,
              label: `${r.stage.label} (${r.pipeline.label})`,
            }))}
          />
          <Heading>By owner role</Heading>
          <MetricsTable
            testId="by-role"
            groupLabel="Owner role"
            rows={state.data.byRole.map((r) => ({ ...r, key: r.role.id, label: r.role.name }))}
          />
          {dimensionLabels(state.data).map((label) => (
            <Flex key={label} direction="column" gap="sm">
              <Heading>{`By ${label.toLowerCase()}`}</Heading>
              <MetricsTable
                testId={`by-${label}`}
                groupLabel={label}
                rows={(state.data.byDimension ?? [])
                  .filter((r) => r.dimension.label === label)
                  .map((r) => ({ ...r, key: `${r.dimension.property}/${r.value}`, label: r.value }))}
              />
            </Flex>
          ))}
          <Flex direction="row" gap="sm" align="end">
            <Button testId="export-csv" onClick={() => void exportCsv()} disabled={csv.kind === 'loading'}>
              Export CSV
            </Button>
            {csv.kind === 'error' && <Text>{`Could not export: ${csv.message}`}</Text>}
          </Flex>
          {csv.kind === 'ready' && (
            <TextArea
              label={`${csv.data.filename}: select all and copy into a spreadsheet`}
              name="csv"
              readOnly
              rows={8}
              value={csv.data.csv}
            />
          )}
        </Flex>
      )}
    </Flex>
  );
};
