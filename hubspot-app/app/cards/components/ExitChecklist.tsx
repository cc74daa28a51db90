import React from 'react';
import { Flex, Tag, Text } from '@hubspot/ui-extensions';
import type { ManagedCardView } from '@stagekeeper/app-client/api';

export const ExitChecklist = ({ items }: { items: ManagedCardView['exitChecklist'] }) => {
  if (items.length === 0) return <Text variant="microcopy">No exit criteria for this stage.</Text>;
  return (
    <Flex direction="column" gap="xs">
      {items.map((item, i) => (
        <Flex key={i} direction="row" gap="sm" align="center">
          <Tag testId={`criterion-${i}`} variant={item.met ? 'success' : 'error'}>
            {item.met ? 'Met' : 'Missing'}
          </Tag>
          <Text>{item.label}</Text>
        </Flex>
      ))}
    </Flex>
  );
};
