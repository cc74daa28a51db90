import React from 'react';
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from '@hubspot/ui-extensions';
import { duration, percent, reasons } from '../lib/format.ts';
import type { ScorecardMetrics } from '@stagekeeper/app-client/api';

type Row = ScorecardMetrics & { key: string; label: string };

export const MetricsTable = ({
  rows,
  groupLabel,
  testId,
}: {
  rows: Row[];
  groupLabel: string;
  testId: string;
}) => (
  <Table testId={testId} bordered density="condensed">
    <TableHead>
      <TableRow>
        <TableHeader>{groupLabel}</TableHeader>
        <TableHeader>Volume</TableHeader>
        <TableHeader>Median time in stage</TableHeader>
        <TableHeader>Breach rate</TableHeader>
        <TableHeader>Conversion</TableHeader>
        <TableHeader>Backflow</TableHeader>
        <TableHeader>Drop-off</TableHeader>
        <TableHeader>In stage now</TableHeader>
        <TableHeader>Oldest</TableHeader>
        <TableHeader>Breached in place</TableHeader>
        <TableHeader>Top breach reasons</TableHeader>
      </TableRow>
    </TableHead>
    <TableBody>
      {rows.map((r) => (
        <TableRow key={r.key}>
          <TableCell>{r.label}</TableCell>
          <TableCell>{r.volume}</TableCell>
          <TableCell>{duration(r.medianTimeInStageMs)}</TableCell>
          <TableCell>{percent(r.breachRate)}</TableCell>
          <TableCell>{percent(r.conversionRate)}</TableCell>
          <TableCell>{percent(r.backflowRate)}</TableCell>
          <TableCell>{percent(r.dropOffRate ?? null)}</TableCell>
          <TableCell>{String(r.inStage ?? 0)}</TableCell>
          <TableCell>{duration(r.maxAgeMs ?? null)}</TableCell>
          <TableCell>{String(r.openBreached ?? 0)}</TableCell>
          <TableCell>{reasons(r.topBreachReasons)}</TableCell>
        </TableRow>
      ))}
    </TableBody>
  </Table>
);
