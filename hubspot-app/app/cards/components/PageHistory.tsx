import React from 'react';
import {
  Table,
  TableBody,
  TableCell,
  TableHead,
  TableHeader,
  TableRow,
  Tag,
  Text,
} from '@hubspot/ui-extensions';
import { formatInstant } from '../lib/format.ts';
import type { CardPage } from '@stagekeeper/app-client/api';

type TagVariant = 'default' | 'warning' | 'success' | 'error' | 'info';

/** What the rep reads for each trail status; "failed" and "task only" are why the lead may not have heard. */
const STATUS: Record<CardPage['status'], { label: string; tag: TagVariant }> = {
  held: { label: 'Held for staffed hours', tag: 'default' },
  queued: { label: 'Sending', tag: 'default' },
  sent: { label: 'Sent', tag: 'success' },
  failed: { label: 'Failed', tag: 'error' },
  no_channel: { label: 'HubSpot task only', tag: 'info' },
  resolved: { label: 'Resolved', tag: 'info' },
};

/** Resolution codes in words; other codes (channel_not_found, http_503) are read with spaces. */
const DETAIL: Record<string, string> = {
  stage_left: 'stage left',
  sla_met: 'SLA met',
  sla_cancelled: 'SLA cancelled',
  deal_closed: 'deal closed',
};
const detailText = (code: string) => DETAIL[code] ?? code.replace(/_/g, ' ');

type Props = { pages: CardPage[]; timeZone: string; locale?: string };

/** The deal's escalation pages (Slack, Teams, PagerDuty, webhook): level, stage, channel, what became of it, when. */
export const PageHistory = ({ pages, timeZone, locale }: Props) => {
  if (pages.length === 0)
    return (
      <Text testId="no-pages" variant="microcopy">
        No escalation has paged a lead on this deal.
      </Text>
    );
  return (
    <Table bordered density="condensed">
      <TableHead>
        <TableRow>
          <TableHeader>Level</TableHeader>
          <TableHeader>Stage</TableHeader>
          <TableHeader>Channel</TableHeader>
          <TableHeader>Status</TableHeader>
          <TableHeader>When</TableHeader>
        </TableRow>
      </TableHead>
      <TableBody>
        {pages.map((p, i) => (
          <TableRow key={`${p.stage}:${p.level}:${i}`}>
            <TableCell>{`L${p.level}`}</TableCell>
            <TableCell>{p.stage}</TableCell>
            <TableCell>
              <Text testId={`page-channel-${i}`}>{p.channel ?? 'None'}</Text>
            </TableCell>
            <TableCell>
              <Tag testId={`page-status-${i}`} variant={STATUS[p.status].tag}>
                {STATUS[p.status].label}
              </Tag>
              {p.detail && (
                <Text testId={`page-detail-${i}`} variant="microcopy">
                  {detailText(p.detail)}
                </Text>
              )}
            </TableCell>
            <TableCell>
              <Text testId={`page-at-${i}`}>{formatInstant(p.at, timeZone, locale)}</Text>
            </TableCell>
          </TableRow>
        ))}
      </TableBody>
    </Table>
  );
};
