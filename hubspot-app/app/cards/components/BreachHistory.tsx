import React from 'react';
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow, Text } from '@hubspot/ui-extensions';
import { REASON_LABELS, formatInstant } from '../lib/format.ts';
import type { BreachRecord } from '../lib/types.ts';

type Props = { breaches: BreachRecord[]; timeZone: string; locale?: string };

export const BreachHistory = ({ breaches, timeZone, locale }: Props) => {
  if (breaches.length === 0) return <Text variant="microcopy">No SLA breaches on this deal.</Text>;
  return (
    <Table bordered density="condensed">
      <TableHead>
        <TableRow>
          <TableHeader>Stage</TableHeader>
          <TableHeader>Breached</TableHeader>
          <TableHeader>Reason</TableHeader>
        </TableRow>
      </TableHead>
      <TableBody>
        {breaches.map((b, i) => (
          <TableRow key={i}>
            <TableCell>{b.stage.label}</TableCell>
            <TableCell>{formatInstant(b.breachedAt, timeZone, locale)}</TableCell>
            <TableCell>
              {b.reason ? `${REASON_LABELS[b.reason]}${b.source === 'inferred' ? ' (inferred)' : ''}` : 'Not set'}
            </TableCell>
          </TableRow>
        ))}
      </TableBody>
    </Table>
  );
};
