import React from 'react';
import { Flex, Tag, Text } from '@hubspot/ui-extensions';
import { formatInstant } from '../lib/format.ts';
import type { CardAction } from '@stagekeeper/app-client/api';

type Props = {
  actions: CardAction[];
  timeZone: string;
  locale?: string;
  /** HubSpot could not be read (freshness "saved"): whether a task is done is not known. */
  unchecked?: boolean;
};

/** What the stage asks the rep to do, and by when: done, open, or open and past its due time. */
export const RequiredActions = ({ actions, timeZone, locale, unchecked = false }: Props) => {
  if (actions.length === 0)
    return (
      <Text testId="no-required-actions" variant="microcopy">
        No required actions in this stage.
      </Text>
    );
  return (
    <Flex direction="column" gap="xs">
      {actions.map((a, i) => (
        <Flex key={a.id} direction="row" gap="sm" align="center">
          <Tag
            testId={`action-${i}`}
            variant={
              unchecked ? 'default' : a.status === 'done' ? 'success' : a.overdue ? 'error' : 'default'
            }
          >
            {unchecked ? 'Not checked' : a.status === 'done' ? 'Done' : a.overdue ? 'Overdue' : 'Open'}
          </Tag>
          <Text>{a.subject}</Text>
          {(unchecked || a.status === 'open') && (
            <Text testId={`action-due-${i}`} variant="microcopy">
              {`due ${formatInstant(a.dueAt, timeZone, locale)}`}
            </Text>
          )}
        </Flex>
      ))}
    </Flex>
  );
};
