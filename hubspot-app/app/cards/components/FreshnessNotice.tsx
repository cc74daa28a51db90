import React from 'react';
import { Alert, Button, Text } from '@hubspot/ui-extensions';
import type { CardFreshness } from '@stagekeeper/app-client/api';
import { ageText } from '../lib/format.ts';

type Props = { freshness: CardFreshness | undefined; now: number; onRefresh: () => void };

/**
 * Says so when the card is not HubSpot's view of this moment (issue #18: during a bulk move the service answers
 * from what it has rather than keep the rep waiting): the SLA and contract are Stagekeeper's and current, and
 * what only HubSpot knows is as of an earlier read, or could not be checked.
 */
export const FreshnessNotice = ({ freshness, now, onRefresh }: Props) => {
  if (!freshness || freshness.source === 'live') return null;
  const asOf = freshness.asOf ? Date.parse(freshness.asOf) : NaN;
  const text =
    freshness.source === 'recent' && Number.isFinite(asOf)
      ? `Showing HubSpot's values as Stagekeeper read them ${ageText(now - asOf)}. SLA timers are up to date.`
      : "Showing Stagekeeper's saved state: SLA timers and the stage contract are up to date, but the checklist and tasks could not be checked in HubSpot just now.";
  return (
    <Alert title="HubSpot is busy" variant="info">
      <Text testId="freshness">{text}</Text>
      <Button testId="freshness-refresh" size="xs" onClick={onRefresh}>
        Check again
      </Button>
    </Alert>
  );
};
