import React from 'react';
import { DescriptionList, DescriptionListItem, Text } from '@hubspot/ui-extensions';
import { duration, percent } from '../lib/format.ts';
import type { ScorecardFunnel } from '@stagekeeper/app-client/api';

/** Seed 003's and 004's named intake metrics; their definitions are in docs/scorecard.md ("Intake funnel"). */
export const FunnelList = ({ funnel: f }: { funnel: ScorecardFunnel }) => {
  const r = f.reReferral;
  return (
    <DescriptionList direction="row">
      <DescriptionListItem label={`Received (${f.receivedStage.label})`}>
        <Text>{String(f.received)}</Text>
      </DescriptionListItem>
      <DescriptionListItem label="Contact rate">
        <Text>{`${percent(f.contactRate)} (${f.contacted} of ${f.received})`}</Text>
      </DescriptionListItem>
      <DescriptionListItem label="First touch, median / p90">
        <Text>{`${duration(f.firstTouchMedianMs)} / ${duration(f.firstTouchP90Ms)}`}</Text>
      </DescriptionListItem>
      <DescriptionListItem label="Incomplete rate">
        <Text>{`${percent(f.incompleteRate)} (${f.incomplete} of ${f.received})`}</Text>
      </DescriptionListItem>
      <DescriptionListItem label="Appointments booked">
        <Text>{String(f.appointmentsBooked)}</Text>
      </DescriptionListItem>
      <DescriptionListItem label="Closure reasons">
        <Text>
          {f.closureReasons.length === 0
            ? '–'
            : f.closureReasons
                .map((c) => `${c.stage.label}: ${c.reason ?? 'none recorded'} (${c.count})`)
                .join(', ')}
        </Text>
      </DescriptionListItem>
      {r && (
        <DescriptionListItem label="Re-referral within 30 days">
          <Text>{`${percent(r.rate)} (${r.reReferred} of ${r.decided} decided, ${r.pending} pending; ${r.partnersReferringAgain} of ${r.partners} partners)`}</Text>
        </DescriptionListItem>
      )}
    </DescriptionList>
  );
};
