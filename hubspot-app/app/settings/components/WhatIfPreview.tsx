import React, { useState } from 'react';
import {
  Alert,
  BarChart,
  Button,
  Flex,
  Heading,
  LoadingSpinner,
  Select,
  Table,
  TableBody,
  TableCell,
  TableHead,
  TableHeader,
  TableRow,
  Text,
} from '@hubspot/ui-extensions';
import type { ServiceClient } from '@stagekeeper/app-client/service';
import type { PlaybookDoc } from '@stagekeeper/app-client/api';
import { percent, shift, type WhatIfMetrics, type WhatIfReport } from '../lib/whatif.ts';

type State =
  | { kind: 'idle' }
  | { kind: 'loading' }
  | { kind: 'error'; message: string }
  | { kind: 'ready'; report: WhatIfReport };

const WEEK_OPTIONS = [1, 2, 4, 8, 13].map((w) => ({ label: `${w} week${w === 1 ? '' : 's'}`, value: w }));

const MetricCells = ({ m }: { m: WhatIfMetrics }) => (
  <>
    <TableCell>{m.visits}</TableCell>
    <TableCell>
      {percent(m.current.breachRate)} → {percent(m.draft.breachRate)}
    </TableCell>
    <TableCell>
      {m.current.warningsPerWeek} → {m.draft.warningsPerWeek}
    </TableCell>
    <TableCell>
      {m.current.escalationsPerWeek} → {m.draft.escalationsPerWeek}
    </TableCell>
    <TableCell>
      {m.current.tasksPerWeek} → {m.draft.tasksPerWeek}
    </TableCell>
    <TableCell>{shift(m.medianDueShiftMs)}</TableCell>
    <TableCell>{m.flips}</TableCell>
    <TableCell>{Math.max(m.current.unknown, m.draft.unknown)}</TableCell>
  </>
);

const MetricHeaders = ({ first }: { first: string }) => (
  <TableHead>
    <TableRow>
      <TableHeader>{first}</TableHeader>
      <TableHeader>Visits</TableHeader>
      <TableHeader>Breach rate (now → draft)</TableHeader>
      <TableHeader>Warnings / week</TableHeader>
      <TableHeader>Escalations / week</TableHeader>
      <TableHeader>Tasks / week</TableHeader>
      <TableHeader>Median due shift</TableHeader>
      <TableHeader>Flips</TableHeader>
      <TableHeader>Unknown</TableHeader>
    </TableRow>
  </TableHead>
);

/**
 * Before publishing: replays the last weeks of the portal's stage visits under the draft and the playbook in force
 * (POST /api/settings/whatif) and shows, per stage and role, what would change, the deals whose outcome flips (ids
 * only) and how far the running deals' due times would move.
 */
export const WhatIfPreview = ({
  client,
  draft,
  disabled,
}: {
  client: ServiceClient;
  draft: PlaybookDoc;
  disabled: boolean;
}) => {
  const [weeks, setWeeks] = useState(4);
  const [state, setState] = useState<State>({ kind: 'idle' });

  const run = async () => {
    setState({ kind: 'loading' });
    try {
      setState({
        kind: 'ready',
        report: await client.post<WhatIfReport>('/api/settings/whatif', { playbook: draft, weeks }),
      });
    } catch (e) {
      setState({ kind: 'error', message: e instanceof Error ? e.message : 'Unknown error' });
    }
  };

  const report = state.kind === 'ready' ? state.report : null;
  const chart = report
    ? report.byStage.flatMap((s) => [
        {
          stage: s.stage.label,
          playbook: 'In force',
          breachRate: Math.round((s.current.breachRate ?? 0) * 1000) / 10,
        },
        {
          stage: s.stage.label,
          playbook: 'Draft',
          breachRate: Math.round((s.draft.breachRate ?? 0) * 1000) / 10,
        },
      ])
    : [];

  return (
    <Flex direction="column" gap="sm">
      <Heading>Preview the draft on recent deals</Heading>
      <Flex direction="row" gap="sm" align="end">
        <Select
          name="whatif-weeks"
          label="Replay the last"
          value={weeks}
          options={WEEK_OPTIONS}
          onChange={(v) => setWeeks(Number(v))}
        />
        <Button disabled={disabled || state.kind === 'loading'} onClick={() => void run()}>
          Preview impact
        </Button>
      </Flex>
      {state.kind === 'loading' && <LoadingSpinner label="Replaying recent stage visits" />}
      {state.kind === 'error' && (
        <Alert title="Preview unavailable" variant="warning">
          {state.message}
        </Alert>
      )}
      {report && (
        <Flex direction="column" gap="sm">
          <Text testId="whatif-summary">
            {report.totals.visits} stage visits from {report.from.slice(0, 10)} to {report.to.slice(0, 10)}:
            breach rate {percent(report.totals.current.breachRate)} now,{' '}
            {percent(report.totals.draft.breachRate)} with the draft; {report.flipsTotal} outcome
            {report.flipsTotal === 1 ? '' : 's'} would flip.
          </Text>
          {chart.length > 0 && (
            <BarChart
              data={chart}
              axes={{
                x: { field: 'stage', fieldType: 'category', label: 'Stage' },
                y: { field: 'breachRate', fieldType: 'linear', label: 'Breach rate (%)' },
                options: { groupFieldByColor: 'playbook' },
              }}
              options={{
                title: 'Breach rate per stage: in force and draft',
                showLegend: true,
                showDataLabels: true,
              }}
            />
          )}
          <Table>
            <MetricHeaders first="Stage" />
            <TableBody>
              {report.byStage.map((s) => (
                <TableRow key={s.stage.id}>
                  <TableCell>{s.stage.label}</TableCell>
                  <MetricCells m={s} />
                </TableRow>
              ))}
            </TableBody>
          </Table>
          <Table>
            <MetricHeaders first="Role" />
            <TableBody>
              {report.byRole.map((r) => (
                <TableRow key={r.role.id}>
                  <TableCell>{r.role.name}</TableCell>
                  <MetricCells m={r} />
                </TableRow>
              ))}
            </TableBody>
          </Table>
          {report.flipped.length > 0 && (
            <Text testId="whatif-flips">
              Deals whose outcome flips:{' '}
              {report.flipped.map((f) => `${f.dealId} (${f.from} → ${f.to})`).join(', ')}
              {report.flipsTotal > report.flipped.length
                ? `, and ${report.flipsTotal - report.flipped.length} more`
                : ''}
            </Text>
          )}
          <Heading>Deals running now (repair preview)</Heading>
          {report.repair.byStage.length === 0 ? (
            <Text>No deal has a running SLA clock.</Text>
          ) : (
            <Table>
              <TableHead>
                <TableRow>
                  <TableHeader>Stage</TableHeader>
                  <TableHeader>Running</TableHeader>
                  <TableHeader>Moved</TableHeader>
                  <TableHeader>Median move</TableHeader>
                  <TableHeader>Largest move</TableHeader>
                  <TableHeader>Unknown</TableHeader>
                </TableRow>
              </TableHead>
              <TableBody>
                {report.repair.byStage.map((s) => (
                  <TableRow key={s.stage.id}>
                    <TableCell>{s.stage.label}</TableCell>
                    <TableCell>{s.deals}</TableCell>
                    <TableCell>{s.moved + s.removed + s.added}</TableCell>
                    <TableCell>{shift(s.medianShiftMs)}</TableCell>
                    <TableCell>
                      {shift(
                        Math.abs(s.minShiftMs ?? 0) > Math.abs(s.maxShiftMs ?? 0)
                          ? s.minShiftMs
                          : s.maxShiftMs,
                      )}
                    </TableCell>
                    <TableCell>{s.unknown}</TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
          )}
          <Text variant="microcopy">
            Both playbooks are replayed over the same recorded visits. Unknown: visits recorded without a
            value the playbook reads; they are never guessed.
          </Text>
        </Flex>
      )}
    </Flex>
  );
};
