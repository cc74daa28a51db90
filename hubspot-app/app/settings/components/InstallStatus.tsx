import React from 'react';
import { DescriptionList, DescriptionListItem, StatusTag, Text } from '@hubspot/ui-extensions';
import type { ProvisioningState, InstallStatusBody } from '@stagekeeper/app-client/api';

const PROVISIONING: Record<
  ProvisioningState,
  { label: string; variant: 'success' | 'warning' | 'danger' | 'info' }
> = {
  complete: { label: 'Properties provisioned', variant: 'success' },
  in_progress: { label: 'Provisioning', variant: 'info' },
  not_started: { label: 'Not provisioned', variant: 'warning' },
  failed: { label: 'Provisioning failed', variant: 'danger' },
};

const when = (iso: string | null) =>
  iso ? new Date(iso).toISOString().replace('T', ' ').slice(0, 16) + ' UTC' : 'never';

export const InstallStatus = ({ status }: { status: InstallStatusBody }) => {
  const p = PROVISIONING[status.provisioning.state];
  return (
    <DescriptionList direction="row">
      <DescriptionListItem label="Install">
        <StatusTag testId="install-status" variant={status.installed ? 'success' : 'danger'}>
          {status.installed ? 'Connected' : 'Not connected'}
        </StatusTag>
      </DescriptionListItem>
      <DescriptionListItem label="Deal properties">
        <StatusTag testId="provisioning-status" variant={p.variant}>
          {p.label} ({status.provisioning.propertiesPresent}/{status.provisioning.propertiesExpected})
        </StatusTag>
        {status.provisioning.error && <Text variant="microcopy">{status.provisioning.error}</Text>}
      </DescriptionListItem>
      <DescriptionListItem label="Missing scopes">
        <Text>{status.missingScopes.length > 0 ? status.missingScopes.join(', ') : 'none'}</Text>
      </DescriptionListItem>
      <DescriptionListItem label="Last webhook">
        <Text>{when(status.lastWebhookAt)}</Text>
      </DescriptionListItem>
      <DescriptionListItem label="Last sweep">
        <Text>{when(status.lastSweepAt)}</Text>
      </DescriptionListItem>
    </DescriptionList>
  );
};
