import React, { useCallback, useEffect, useRef, useState } from 'react';
import {
  Alert,
  Button,
  Divider,
  ErrorState,
  Flex,
  Heading,
  LoadingSpinner,
  Text,
  hubspot,
  useExtensionActions,
} from '@hubspot/ui-extensions';
import { InstallStatus } from './components/InstallStatus.tsx';
import { PagingChannels } from './components/PagingChannels.tsx';
import { StageFields } from './components/StageFields.tsx';
import { StarterPlaybook } from './components/StarterPlaybook.tsx';
import { UnsubscribedProperties } from './components/UnsubscribedProperties.tsx';
import { SERVICE_URL } from '@stagekeeper/app-client/config';
import { editStage, type StageEdit } from './lib/draft.ts';
import {
  createServiceClient,
  ServiceError,
  type FetchLike,
  type Issue,
} from '@stagekeeper/app-client/service';
import { WhatIfPreview } from './components/WhatIfPreview.tsx';
import type { PlaybookDoc, PlaybookBody, InstallStatusBody } from '@stagekeeper/app-client/api';
import { fieldKey, validatePlaybook, type FieldErrors } from './lib/validate.ts';

type Loadable<T> = { kind: 'loading' } | { kind: 'error'; message: string } | { kind: 'ready'; data: T };

const message = (e: unknown) => (e instanceof Error ? e.message : 'Unknown error');

export const SettingsPage = ({ fetcher = hubspot.fetch }: { fetcher?: FetchLike }) => {
  const actions = useExtensionActions<'settings'>();
  const client = useRef(createServiceClient(SERVICE_URL, fetcher)).current;
  const [status, setStatus] = useState<Loadable<InstallStatusBody>>({ kind: 'loading' });
  const [saved, setSaved] = useState<Loadable<PlaybookBody>>({ kind: 'loading' });
  const [draft, setDraft] = useState<PlaybookDoc | null>(null);
  const [serverErrors, setServerErrors] = useState<FieldErrors>({});
  const [otherIssues, setOtherIssues] = useState<Issue[]>([]);
  const [conflict, setConflict] = useState(false);
  const [saving, setSaving] = useState(false);

  const loadPlaybook = useCallback(async () => {
    setSaved({ kind: 'loading' });
    try {
      const data = await client.get<PlaybookBody>('/api/settings/playbook');
      setSaved({ kind: 'ready', data });
      setDraft(data.playbook);
      setServerErrors({});
      setOtherIssues([]);
      setConflict(false);
    } catch (e) {
      setSaved({ kind: 'error', message: message(e) });
    }
  }, [client]);

  const loadStatus = useCallback(async () => {
    try {
      setStatus({ kind: 'ready', data: await client.get<InstallStatusBody>('/api/settings/status') });
    } catch (e) {
      setStatus({ kind: 'error', message: message(e) });
    }
  }, [client]);

  useEffect(() => {
    void loadPlaybook();
    void loadStatus();
  }, [loadPlaybook, loadStatus]);

  const clientErrors = draft ? validatePlaybook(draft) : {};
  const errors = { ...serverErrors, ...clientErrors };
  const hasClientErrors = Object.keys(clientErrors).length > 0;
  const dirty = saved.kind === 'ready' && draft !== saved.data.playbook;

  const onEdit = (pi: number, si: number, edit: StageEdit) => {
    if (!draft) return;
    setDraft(editStage(draft, pi, si, edit));
    // A server complaint about a field is answered once the rep has touched that field.
    const base = ['pipelines', pi, 'stages', si];
    const touched = [
      ...(edit.ownerRole !== undefined ? [fieldKey([...base, 'ownerRole'])] : []),
      ...Object.keys(edit.sla ?? {}).map((k) => fieldKey([...base, 'sla', k])),
    ];
    setServerErrors((prev) => Object.fromEntries(Object.entries(prev).filter(([k]) => !touched.includes(k))));
  };

  const save = async (doc: PlaybookDoc | null = draft) => {
    if (!doc || saved.kind !== 'ready' || (doc === draft && hasClientErrors) || saving) return;
    setSaving(true);
    try {
      const data = await client.put<PlaybookBody>('/api/settings/playbook', {
        baseVersion: saved.data.version,
        playbook: doc,
      });
      setSaved({ kind: 'ready', data });
      setDraft(data.playbook);
      setServerErrors({});
      setOtherIssues([]);
      actions.addAlert({ type: 'success', message: `Playbook saved as version ${data.version}.` });
    } catch (e) {
      if (e instanceof ServiceError && e.code === 'version_conflict') setConflict(true);
      else if (e instanceof ServiceError && e.issues.length > 0) showServerIssues(e.issues);
      actions.addAlert({ type: 'danger', title: 'Playbook not saved', message: message(e) });
    } finally {
      setSaving(false);
    }
  };

  const showServerIssues = (issues: Issue[]) => {
    const editable = new Set(
      (draft?.pipelines ?? []).flatMap((pl, pi) =>
        pl.stages.flatMap((_, si) =>
          ['ownerRole', 'sla.target', 'sla.warningAt', 'sla.calendar'].map(
            (f) => `pipelines.${pi}.stages.${si}.${f}`,
          ),
        ),
      ),
    );
    const byField: FieldErrors = {};
    const rest: Issue[] = [];
    for (const issue of issues) {
      const key = fieldKey(issue.path);
      if (editable.has(key)) byField[key] = issue.message;
      else rest.push(issue);
    }
    setServerErrors(byField);
    setOtherIssues(rest);
  };

  return (
    <Flex direction="column" gap="md">
      <Heading>Install</Heading>
      {status.kind === 'loading' && <LoadingSpinner label="Loading install status" />}
      {status.kind === 'error' && (
        <Alert title="Install status unavailable" variant="warning">
          {status.message}
        </Alert>
      )}
      {status.kind === 'ready' && <InstallStatus status={status.data} />}
      <Divider />
      <PagingChannels client={client} />
      <Divider />
      {saved.kind === 'loading' && <LoadingSpinner label="Loading playbook" />}
      {saved.kind === 'error' && (
        <ErrorState title="Could not load the playbook">
          <Text>{saved.message}</Text>
          <Button onClick={() => void loadPlaybook()}>Try again</Button>
        </ErrorState>
      )}
      {saved.kind === 'ready' && !draft && (
        <StarterPlaybook
          starter={saved.data.starter ?? null}
          publishing={saving}
          onPublish={() => void save(saved.data.starter ?? null)}
        />
      )}
      {saved.kind === 'ready' && draft && (
        <Flex direction="column" gap="sm">
          <Heading>
            Playbook: {draft.name} (version {saved.data.version ?? draft.version})
          </Heading>
          <UnsubscribedProperties items={saved.data.unsubscribedProperties ?? []} />
          {conflict && (
            <Alert title="Someone saved a newer version" variant="warning">
              <Text>Reload to see it, then make your change again.</Text>
              <Button onClick={() => void loadPlaybook()}>Reload playbook</Button>
            </Alert>
          )}
          {otherIssues.length > 0 && (
            <Alert title="The service rejected the playbook" variant="error">
              {otherIssues.map((i, n) => (
                <Text key={n}>
                  {fieldKey(i.path)}: {i.message}
                </Text>
              ))}
            </Alert>
          )}
          {draft.pipelines.map((pl, pi) => (
            <Flex key={pl.id} direction="column" gap="sm">
              <Heading>{pl.label}</Heading>
              {pl.stages.map((stage, si) => (
                <StageFields
                  key={stage.id}
                  stage={stage}
                  path={['pipelines', pi, 'stages', si]}
                  playbook={draft}
                  errors={errors}
                  onEdit={(edit) => onEdit(pi, si, edit)}
                />
              ))}
            </Flex>
          ))}
          <WhatIfPreview client={client} draft={draft} disabled={hasClientErrors} />
          <Flex direction="row" gap="sm" align="center">
            <Button
              variant="primary"
              disabled={!dirty || hasClientErrors || saving}
              onClick={() => void save()}
            >
              {saving ? 'Saving' : 'Save as new version'}
            </Button>
            {hasClientErrors && <Text testId="fix-fields">Fix the highlighted fields to save.</Text>}
          </Flex>
        </Flex>
      )}
    </Flex>
  );
};

hubspot.extend<'settings'>(() => <SettingsPage />);
