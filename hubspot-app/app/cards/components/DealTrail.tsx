import React from 'react';
import {
  Heading,
  Table,
  TableBody,
  TableCell,
  TableHead,
  TableHeader,
  TableRow,
  Tag,
  Text,
} from '@hubspot/ui-extensions';
import { REASON_LABELS, STATUS_DISPLAY, formatInstant } from '../lib/format.ts';
import type { CardEventClock, CardRouting, CardTrailEvent } from '@stagekeeper/app-client/api';

type Props = {
  clocks: CardEventClock[];
  routing: CardRouting | null;
  trail: CardTrailEvent[];
  timeZone: string;
  locale?: string;
};

const PICK_TEXT: Record<CardRouting['pick'], string> = {
  roundRobin: 'in turn',
  fewestOpenTasks: 'fewest open tasks',
  lead: 'the role lists no member: its lead',
};

/** Event clocks (support inquiry, refill follow-up), how this stage's work was routed, and the deal's trail. */
export const DealTrail = ({ clocks, routing, trail, timeZone, locale }: Props) => {
  if (clocks.length === 0 && !routing && trail.length === 0) return null;
  const at = (iso: string) => formatInstant(iso, timeZone, locale);
  return (
    <>
      {routing && (
        <Text testId="routing">
          {routing.mode === 'assignDeal'
            ? `Deal handed from owner ${routing.from ?? 'none'} to ${routing.to} (${PICK_TEXT[routing.pick]}) on ${at(routing.at)}.`
            : `This stage's tasks went to ${routing.to} (${PICK_TEXT[routing.pick]}); owner ${routing.from ?? 'none'} keeps the deal.`}
        </Text>
      )}
      {clocks.length > 0 && (
        <>
          <Heading>Event clocks</Heading>
          <Table bordered density="condensed">
            <TableHead>
              <TableRow>
                <TableHeader>Clock</TableHeader>
                <TableHeader>Status</TableHeader>
                <TableHeader>Due</TableHeader>
              </TableRow>
            </TableHead>
            <TableBody>
              {clocks.map((c) => (
                <TableRow key={c.id}>
                  <TableCell>{`${c.label} (${c.target})`}</TableCell>
                  <TableCell>
                    <Tag testId={`clock-${c.id}`} variant={STATUS_DISPLAY[c.status].tag}>
                      {STATUS_DISPLAY[c.status].label}
                    </Tag>
                    {c.breachReason ? ` ${REASON_LABELS[c.breachReason]}` : ''}
                  </TableCell>
                  <TableCell>{c.stoppedAt ? `Stopped ${at(c.stoppedAt)}` : at(c.dueAt)}</TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        </>
      )}
      {trail.length > 0 && (
        <>
          <Heading>Trail</Heading>
          {trail.map((t, i) => (
            <Text key={i} testId={`trail-${i}`} variant="microcopy">
              {`${at(t.at)}: ${t.detail}`}
            </Text>
          ))}
        </>
      )}
    </>
  );
};
