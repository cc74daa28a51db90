import React from 'react';
import {
  Select,
  Table,
  TableBody,
  TableCell,
  TableHead,
  TableHeader,
  TableRow,
  Text,
} from '@hubspot/ui-extensions';
import { REASON_LABELS, formatInstant } from '../lib/format.ts';
import type { BreachReason, CardBreach } from '@stagekeeper/app-client/api';
import { BREACH_REASONS } from '../lib/breach-reasons.ts';

type Props = {
  breaches: CardBreach[];
  timeZone: string;
  locale?: string;
  saving?: boolean;
  /** Corrects the reason of any listed breach, past visits included; absent: the list is read-only. */
  onCorrect?: (entryId: string, reason: BreachReason) => void;
};

const OPTIONS = BREACH_REASONS.map((value) => ({ value, label: REASON_LABELS[value] }));
const isReason = (v: unknown): v is BreachReason => (BREACH_REASONS as readonly unknown[]).includes(v);

function reasonText(b: CardBreach): string {
  if (!b.reason) return 'Not set';
  const label = REASON_LABELS[b.reason];
  if (b.corrected) return `${label} (corrected)`;
  return b.source === 'inferred' ? `${label} (inferred)` : label;
}

export const BreachHistory = ({ breaches, timeZone, locale, saving, onCorrect }: Props) => {
  if (breaches.length === 0) return <Text variant="microcopy">No SLA breaches on this deal.</Text>;
  return (
    <Table bordered density="condensed">
      <TableHead>
        <TableRow>
          <TableHeader>Stage</TableHeader>
          <TableHeader>Breached</TableHeader>
          <TableHeader>Reason</TableHeader>
          <TableHeader>Evidence</TableHeader>
          {onCorrect && <TableHeader>Correct</TableHeader>}
        </TableRow>
      </TableHead>
      <TableBody>
        {breaches.map((b, i) => (
          <TableRow key={b.entryId ?? i}>
            <TableCell>{b.stage.label}</TableCell>
            <TableCell>{formatInstant(b.breachedAt, timeZone, locale)}</TableCell>
            <TableCell>{reasonText(b)}</TableCell>
            <TableCell>{b.evidence && b.evidence.length > 0 ? b.evidence.join('; ') : '-'}</TableCell>
            {onCorrect && (
              <TableCell>
                {b.entryId ? (
                  <Select
                    label=""
                    name={`correct-${i}`}
                    placeholder="Set reason"
                    readOnly={saving}
                    options={OPTIONS}
                    value={b.reason ?? undefined}
                    onChange={(v) => isReason(v) && v !== b.reason && onCorrect(b.entryId!, v)}
                  />
                ) : (
                  '-'
                )}
              </TableCell>
            )}
          </TableRow>
        ))}
      </TableBody>
    </Table>
  );
};
