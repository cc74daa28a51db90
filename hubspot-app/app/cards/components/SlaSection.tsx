import React from 'react';
import { DescriptionList, DescriptionListItem, Flex, ProgressBar, Tag, Text } from '@hubspot/ui-extensions';
import { STATUS_DISPLAY, formatInstant, percentUsed, timeLeftText } from '../lib/format.ts';
import type { CardSla } from '@stagekeeper/app-client/api';

type Props = { sla: CardSla | null; timeZone: string; locale?: string };

export const SlaSection = ({ sla, timeZone, locale }: Props) => {
  if (!sla) return <Text variant="microcopy">This stage has no SLA.</Text>;
  const display = STATUS_DISPLAY[sla.status];
  const at = (iso: string) => formatInstant(iso, timeZone, locale);
  const closed = sla.status === 'met' || sla.status === 'breached_closed' || sla.status === 'cancelled';
  return (
    <Flex direction="column" gap="xs">
      <Flex direction="row" gap="sm" align="center">
        <Text format={{ fontWeight: 'bold' }}>SLA {sla.target}</Text>
        <Tag testId="sla-status" variant={display.tag}>
          {display.label}
        </Tag>
      </Flex>
      <ProgressBar
        title={sla.basis === 'business' ? 'Business time used' : 'Time used'}
        value={percentUsed(sla.elapsedMs, sla.targetMs)}
        maxValue={100}
        showPercentage
        variant={display.bar}
      />
      {!closed && <Text testId="sla-left">{timeLeftText(sla.remainingMs, sla.basis)}</Text>}
      {sla.status === 'paused' && (
        <Text testId="sla-paused">
          Clock paused{sla.pauseReason ? `: ${sla.pauseReason}` : ''}
          {sla.pausedAt ? ` (since ${at(sla.pausedAt)})` : ''}
        </Text>
      )}
      <DescriptionList direction="row">
        <DescriptionListItem label="Due">
          <Text testId="sla-due">{at(sla.dueAt)}</Text>
        </DescriptionListItem>
        {sla.originalDueAt !== sla.dueAt && (
          <DescriptionListItem label="Originally due">
            <Text>{at(sla.originalDueAt)}</Text>
          </DescriptionListItem>
        )}
        {sla.metAt && (
          <DescriptionListItem label="Met">
            <Text>{at(sla.metAt)}</Text>
          </DescriptionListItem>
        )}
        {sla.breachedAt && (
          <DescriptionListItem label="Breached">
            <Text>{at(sla.breachedAt)}</Text>
          </DescriptionListItem>
        )}
      </DescriptionList>
    </Flex>
  );
};
