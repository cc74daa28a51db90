import React from 'react';
import { Alert, Text } from '@hubspot/ui-extensions';
import type { CardGate } from '@stagekeeper/app-client/api';

export const GateAlert = ({ gate }: { gate: CardGate }) => {
  if (gate.status === 'clear') return null;
  const target = gate.blockedTo?.label ?? 'the next stage';
  const where = gate.movedTo ? ` The deal was moved to ${gate.movedTo.label}.` : '';
  return (
    <Alert title={`Move to ${target} was blocked`} variant="warning">
      <Text testId="gate-missing">
        Missing: {gate.missing.length > 0 ? gate.missing.join(', ') : 'exit criteria'}.{where}
      </Text>
      {gate.remedy && <Text testId="gate-remedy">{gate.remedy}</Text>}
    </Alert>
  );
};
