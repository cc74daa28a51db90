import React from 'react';
import { Flex, Tag, Text } from '@hubspot/ui-extensions';
import type { CardNextMove } from '@stagekeeper/app-client/api';

/** "To move to <next stage>": what the gate would still refuse, so the rep fixes it before moving the deal. */
export const NextMove = ({ move }: { move: CardNextMove }) => {
  if (move.missing.length === 0)
    return <Text testId="next-move-ready">{`Everything ${move.to.label} needs is in place.`}</Text>;
  return (
    <Flex direction="column" gap="xs">
      {move.missing.map((label, i) => (
        <Flex key={i} direction="row" gap="sm" align="center">
          <Tag testId={`next-missing-${i}`} variant="error">
            Missing
          </Tag>
          <Text>{label}</Text>
        </Flex>
      ))}
    </Flex>
  );
};
