import React from 'react';
import { Alert, Text } from '@hubspot/ui-extensions';
import type { UnsubscribedProperty } from '@stagekeeper/app-client/api';

/**
 * Properties the playbook reads that the app has no webhook subscription for: a change to one (a pause, a gate)
 * is seen only by the periodic sweep. Each line says which property, where the playbook reads it, and the fix.
 */
export const UnsubscribedProperties = ({ items }: { items: UnsubscribedProperty[] }) =>
  items.length === 0 ? null : (
    <Alert
      title={`${items.length} propert${items.length === 1 ? 'y is' : 'ies are'} read without a webhook subscription`}
      variant="warning"
    >
      <Text>Changes to these reach Stagekeeper only at the next sweep (every few minutes), not at once.</Text>
      {items.map((u) => (
        <Text key={u.property} testId={`unsubscribed-${u.property}`}>
          {u.property} (read at {u.at.join(', ')}): {u.fix}
        </Text>
      ))}
    </Alert>
  );
