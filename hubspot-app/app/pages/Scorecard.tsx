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
  hubspot,
} from '@hubspot/ui-extensions';
import { MetricsTable } from './components/MetricsTable.tsx';
import { SERVICE_URL } from './lib/config.ts';
import { weekLabel } from './lib/format.ts';
import { createServiceClient, type FetchLike } from './lib/service.ts';
import type { ScorecardResponse, StageRow } from './lib/types.ts';

type State = { kind: 'loading' } | { kind: 'error'; message: string } | { kind: 'ready'; data: ScorecardResponse };

/** One bar pair per stage: how many visits ended there, and how many of them breached. */
export function chartData(rows: StageRow[]) {
  return rows.flatMap((r) => [
    { stage: r.stage.label, series: 'Visits', count: r.volume },
    { stage: r.stage.label, series: 'Breached', count: r.breached },
  ]);
}

const dimensionLabels = (d: ScorecardResponse) => [...new Set((d.byDimension ?? []).map((r) => r.dimension.label))];

export const Scorecard = ({ fetcher = hubspot.fetch }: { fetcher?: FetchLike }) => {
  const client = useRef(createServiceClient(SERVICE_URL, fetcher)).current;
  // Undefined asks the service for its default: the latest complete week.
  const [week, setWeek] = useState<string | undefined>(undefined);
  const [state, setState] = useState<State>({ kind: 'loading' });
  const seq = useRef(0);

  const load = useCallback(
    async (w: string | undefined) => {
      const mine = ++seq.current;
      setState({ kind: 'loading' });
      try {
        const data = await client.get<ScorecardResponse>('/api/scorecard', { week: w });
        // Flipping weeks quickly must not let an older answer overwrite the newer one.
        if (mine === seq.current) setState({ kind: 'ready', data });
      } catch (e) {
        if (mine === seq.current) setState({ kind: 'error', message: e instanceof Error ? e.message : 'Unknown error' });
      }
    },
    [client],
  );

  useEffect(() => {
    void load(week);
  }, [load, week]);

  const shownWeek = state.kind === 'ready' ? state.data.week : week;
  const weeks = state.kind === 'ready' ? state.data.availableWeeks : [];
  const options = [...new Set([...(shownWeek ? [shownWeek] : []), ...weeks])].map((w) => ({ value: w, label: weekLabel(w) }));

  return (
    <Flex direction="column" gap="md">
      <Flex direction="row" gap="md" align="end">
        <Heading>Weekly stage scorecard</Heading>
        <Select
          label="Week"
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
          <Button onClick={() => void load(week)}>Try again</Button>
        </ErrorState>
      )}
      {state.kind === 'ready' && state.data.byStage.length === 0 && (
        <EmptyState title="No stage visits ended this week" imageName="emptyStateCharts">
          <Text>Pick another week, or check back once deals have moved through a managed pipeline.</Text>
        </EmptyState>
      )}
      {state.kind === 'ready' && state.data.byStage.length > 0 && (
        <Flex direction="column" gap="md">
          <Text variant="microcopy">
            {state.data.weekStart} to {state.data.weekEnd}, {state.data.timeZone}. Times are business time on each
            stage's SLA calendar.
          </Text>
          <BarChart
            data={chartData(state.data.byStage)}
            axes={{
              x: { field: 'stage', fieldType: 'category', label: 'Stage' },
              y: { field: 'count', fieldType: 'linear', label: 'Stage visits' },
              options: { groupFieldByColor: 'series', colors: { Visits: 'blue', Breached: 'orange' } },
            }}
            options={{ title: 'Visits and breaches by stage', showLegend: true, showTooltips: true }}
          />
          <Heading>By stage</Heading>
          <MetricsTable
            testId="by-stage"
            groupLabel="Stage"
            rows={state.data.byStage.map((r) => ({ ...r, key: `${r.pipeline.id}/${r.stage.id}`, label: `${r.stage.label} (${r.pipeline.label})` }))}
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
        </Flex>
      )}
    </Flex>
  );
};
