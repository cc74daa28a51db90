import React from 'react';
import { Flex, Tag, Text } from '@hubspot/ui-extensions';
import type { ManagedCardView } from '@stagekeeper/app-client/api';

type Props = {
  items: ManagedCardView['exitChecklist'];
  /** HubSpot could not be read (freshness "saved"): no item is known to be met or missing. */
  unchecked?: boolean;
};

export const ExitChecklist = ({ items, unchecked = false }: Props) => {
  if (items.length === 0) return <Text variant="microcopy">No exit criteria for this stage.</Text>;
  return (
    <Flex direction="column" gap="xs">
      {items.map((item, i) => (
        <Flex key={i} direction="row" gap="sm" align="center">
          <Tag testId={`criterion-${i}`} variant={unchecked ? 'default' : item.met ? 'success' : 'error'}>
            {unchecked ? 'Not checked' : item.met ? 'Met' : 'Missing'}
          </Tag>
          <Text>{item.label}</Text>
        </Flex>
      ))}
    </Flex>
  );
};
