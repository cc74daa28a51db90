import React, { useState } from 'react';
import { Button, Flex, Select, Text } from '@hubspot/ui-extensions';
import { REASON_LABELS } from '../lib/format.ts';
import type { BreachReason, ManagedCardView } from '@stagekeeper/app-client/api';
import { BREACH_REASONS } from '../lib/breach-reasons.ts';

type Props = {
  current: ManagedCardView['breachReason'];
  saving: boolean;
  onSave: (reason: BreachReason) => void;
};

const OPTIONS = BREACH_REASONS.map((value) => ({ value, label: REASON_LABELS[value] }));
const isReason = (v: unknown): v is BreachReason => (BREACH_REASONS as readonly unknown[]).includes(v);

export const BreachReasonControl = ({ current, saving, onSave }: Props) => {
  // The parent keys this control by the stored reason, so a save or another rep's change remounts it
  // with the stored value instead of keeping a stale pick.
  const [choice, setChoice] = useState<BreachReason | undefined>(current?.value);
  return (
    <Flex direction="column" gap="xs">
      {current && (
        <Text variant="microcopy">
          {current.source === 'inferred' ? 'Inferred by Stagekeeper' : 'Set by a rep'}
          {current.evidence.length > 0 ? ` from: ${current.evidence.join('; ')}` : ''}
        </Text>
      )}
      <Flex direction="row" gap="sm" align="end">
        <Select
          label="Breach reason"
          name="breachReason"
          options={OPTIONS}
          value={choice}
          onChange={(v) => setChoice(isReason(v) ? v : undefined)}
        />
        <Button
          variant="primary"
          disabled={saving || !choice || (choice === current?.value && current?.source === 'manual')}
          onClick={() => choice && onSave(choice)}
        >
          {saving ? 'Saving' : 'Save reason'}
        </Button>
      </Flex>
    </Flex>
  );
};
