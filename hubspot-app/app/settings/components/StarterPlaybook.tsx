import React from 'react';
import { Button, EmptyState, Text } from '@hubspot/ui-extensions';
import type { PlaybookDoc } from '@stagekeeper/app-client/api';

/** A portal without a playbook: publish the service's starter (the canonical telehealth playbook) as version 1. */
export const StarterPlaybook = ({
  starter,
  publishing,
  onPublish,
}: {
  starter: PlaybookDoc | null;
  publishing: boolean;
  onPublish: () => void;
}) => (
  <EmptyState title="No playbook yet" imageName="building">
    {starter ? (
      <>
        <Text>
          Start from the {starter.name} playbook ({starter.pipelines.length} pipeline
          {starter.pipelines.length === 1 ? '' : 's'},{' '}
          {starter.pipelines.reduce((n, p) => n + p.stages.length, 0)} stages); it can be tuned here
          afterwards. Its pipeline and stage ids must match this account's.
        </Text>
        <Button variant="primary" disabled={publishing} onClick={onPublish}>
          {publishing ? 'Publishing' : `Publish the ${starter.name} playbook`}
        </Button>
      </>
    ) : (
      <Text>Upload the first playbook with the Stagekeeper CLI; it can be tuned here afterwards.</Text>
    )}
  </EmptyState>
);
