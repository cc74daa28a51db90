import React from 'react';
import { Flex, Tag, Text } from '@hubspot/ui-extensions';
import type { CardNextMove } from '@stagekeeper/app-client/api';

/** "To move to <next stage>": what the gate would still refuse, so the rep fixes it before moving the deal. */
/** `unchecked`: HubSpot could not be read (freshness "saved"), so what the gate needs is listed, not judged. */
export const NextMove = ({ move, unchecked = false }: { move: CardNextMove; unchecked?: boolean }) => {
  if (move.missing.length === 0 && !unchecked)
    return <Text testId="next-move-ready">{`Everything ${move.to.label} needs is in place.`}</Text>;
  return (
    <Flex direction="column" gap="xs">
      {move.missing.map((label, i) => (
        <Flex key={i} direction="row" gap="sm" align="center">
          <Tag testId={`next-missing-${i}`} variant={unchecked ? 'default' : 'error'}>
            {unchecked ? 'Not checked' : 'Missing'}
          </Tag>
          <Text>{label}</Text>
        </Flex>
      ))}
    </Flex>
  );
};
