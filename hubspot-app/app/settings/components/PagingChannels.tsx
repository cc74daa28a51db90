import React, { useCallback, useEffect, useState } from 'react';
import {
  Alert,
  Button,
  Checkbox,
  Flex,
  Heading,
  Input,
  LoadingSpinner,
  Select,
  StatusTag,
  Text,
} from '@hubspot/ui-extensions';
import { ServiceError, type ServiceClient } from '@stagekeeper/app-client/service';

/**
 * Where escalations page the role's lead (issue 17): the portal's channels with their delivery health (a failing
 * channel is called out: its pages fail, the HubSpot tasks still stand), the default, and a form to add one.
 * Secrets go to the service once and never come back: the list shows masked targets only.
 */

export type ChannelHealth = {
  state: 'ok' | 'failing';
  consecutiveFailures: number;
  lastError: string | null;
  lastFailureAt: number | null;
};
export type ChannelRow = {
  id: string;
  kind: Kind;
  target: string;
  isDefault: boolean;
  health: ChannelHealth | null;
};
export type ChannelsResponse = { canStore: boolean; defaultChannel: string | null; channels: ChannelRow[] };
type Kind = 'slack' | 'teams' | 'pagerduty' | 'webhook';

const KINDS: { value: Kind; label: string }[] = [
  { value: 'slack', label: 'Slack (incoming webhook)' },
  { value: 'teams', label: 'Microsoft Teams (incoming webhook)' },
  { value: 'pagerduty', label: 'PagerDuty (Events API v2)' },
  { value: 'webhook', label: 'Signed HTTPS webhook' },
];

const isResponse = (v: unknown): v is ChannelsResponse =>
  typeof v === 'object' &&
  v !== null &&
  Array.isArray((v as ChannelsResponse).channels) &&
  typeof (v as ChannelsResponse).canStore === 'boolean';

type Draft = {
  id: string;
  kind: Kind;
  url: string;
  routingKey: string;
  secret: string;
  makeDefault: boolean;
};
const EMPTY: Draft = { id: '', kind: 'slack', url: '', routingKey: '', secret: '', makeDefault: false };

function configOf(d: Draft): Record<string, unknown> {
  if (d.kind === 'pagerduty') return { kind: d.kind, routingKey: d.routingKey };
  if (d.kind === 'webhook') return { kind: d.kind, url: d.url, secret: d.secret };
  return { kind: d.kind, webhookUrl: d.url };
}

export const PagingChannels = ({ client }: { client: ServiceClient }) => {
  const [data, setData] = useState<ChannelsResponse | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [draft, setDraft] = useState<Draft>(EMPTY);
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);

  const load = useCallback(async () => {
    try {
      const body = await client.get<unknown>('/api/settings/channels');
      if (!isResponse(body)) throw new Error('The service sent an unexpected answer.');
      setData(body);
      setError(null);
    } catch (e) {
      setError(e instanceof Error ? e.message : 'Unknown error');
    }
  }, [client]);

  useEffect(() => {
    void load();
  }, [load]);

  const write = async (path: string, body: Record<string, unknown>) => {
    setBusy(true);
    try {
      const next = await client.put<unknown>(path, body);
      if (isResponse(next)) setData(next);
      setError(null);
      return true;
    } catch (e) {
      if (e instanceof ServiceError && e.issues.length > 0)
        setFieldErrors(
          Object.fromEntries(e.issues.map((i) => [String(i.path[i.path.length - 1] ?? 'config'), i.message])),
        );
      setError(e instanceof Error ? e.message : 'Unknown error');
      return false;
    } finally {
      setBusy(false);
    }
  };

  const [tested, setTested] = useState<{ id: string; ok: boolean; code?: string } | null>(null);
  const test = async (id: string) => {
    setBusy(true);
    try {
      const body = await client.post<unknown>(`/api/settings/channels/${encodeURIComponent(id)}/test`, {});
      if (isResponse(body)) setData(body);
      const r = body as { ok?: unknown; code?: unknown };
      setTested({ id, ok: r.ok === true, ...(typeof r.code === 'string' ? { code: r.code } : {}) });
    } catch (e) {
      setError(e instanceof Error ? e.message : 'Unknown error');
    } finally {
      setBusy(false);
    }
  };

  // Removing is two clicks: a channel in use silently stops paging once it is gone.
  const [confirming, setConfirming] = useState<string | null>(null);
  const remove = async (id: string) => {
    setBusy(true);
    try {
      const next = await client.delete<unknown>(`/api/settings/channels/${encodeURIComponent(id)}`);
      if (isResponse(next)) setData(next);
      setError(null);
      if (tested?.id === id) setTested(null);
    } catch (e) {
      setError(e instanceof Error ? e.message : 'Unknown error');
    } finally {
      setConfirming(null);
      setBusy(false);
    }
  };

  const add = async () => {
    setFieldErrors({});
    if (
      await write(`/api/settings/channels/${encodeURIComponent(draft.id)}`, {
        config: configOf(draft),
        makeDefault: draft.makeDefault,
      })
    )
      setDraft(EMPTY);
  };

  const failing = data?.channels.filter((c) => c.health?.state === 'failing') ?? [];
  const fieldError = (name: string) =>
    fieldErrors[name] ? { error: true, validationMessage: fieldErrors[name] } : {};

  return (
    <Flex direction="column" gap="sm">
      <Heading>Paging channels</Heading>
      <Text variant="microcopy">
        Escalations to a role's lead also page through the default channel (or the channel a level names).
        Pages never carry deal property values. Without a channel, the HubSpot task is the only notice.
      </Text>
      {!data && !error && <LoadingSpinner label="Loading paging channels" />}
      {error && (
        <Alert title="Paging channels" variant="warning">
          {error}
        </Alert>
      )}
      {failing.map((c) => (
        <Alert key={c.id} title={`Channel "${c.id}" is failing`} variant="danger">
          <Text testId={`failing-${c.id}`}>
            {c.health!.consecutiveFailures} failed deliveries in a row (last:{' '}
            {c.health!.lastError ?? 'unknown'}). Pages through it are not reaching anyone; their HubSpot tasks
            are still created. Check or replace the channel.
          </Text>
        </Alert>
      ))}
      {tested && (
        <Alert
          title={
            tested.ok ? `Test page delivered through "${tested.id}"` : `"${tested.id}" refused the test page`
          }
          variant={tested.ok ? 'success' : 'danger'}
        >
          <Text testId="test-result">
            {tested.ok
              ? 'Check that it arrived where the lead will see it.'
              : `The service answered ${tested.code ?? 'an error'}.`}
          </Text>
        </Alert>
      )}
      {data && !data.canStore && (
        <Alert title="Channels cannot be stored" variant="warning">
          The service has no TOKEN_ENCRYPTION_KEY, which channel secrets are encrypted with.
        </Alert>
      )}
      {data && data.channels.length === 0 && (
        <Text testId="no-channels">No channel yet: escalations are HubSpot tasks only.</Text>
      )}
      {data?.channels.map((c) => (
        <Flex key={c.id} direction="row" gap="sm" align="center">
          <Text format={{ fontWeight: 'bold' }}>{c.id}</Text>
          <Text>
            {KINDS.find((k) => k.value === c.kind)?.label ?? c.kind} · {c.target}
          </Text>
          <StatusTag
            testId={`health-${c.id}`}
            variant={c.health?.state === 'failing' ? 'danger' : c.health ? 'success' : 'info'}
          >
            {c.health?.state === 'failing' ? 'Failing' : c.health ? 'Delivering' : 'Not used yet'}
          </StatusTag>
          <Button size="xs" disabled={busy} onClick={() => void test(c.id)}>
            Send test page
          </Button>
          {c.isDefault ? (
            <StatusTag variant="info">Default</StatusTag>
          ) : (
            <Button
              size="xs"
              disabled={busy}
              onClick={() => void write('/api/settings/channels-default', { channel: c.id })}
            >
              Make default
            </Button>
          )}
          <Button
            size="xs"
            variant="destructive"
            testId={`remove-${c.id}`}
            disabled={busy}
            onClick={() => setConfirming(c.id)}
          >
            Remove
          </Button>
        </Flex>
      ))}
      {confirming && (
        <Alert title="Remove a paging channel" variant="warning">
          <Text testId="confirm-remove">
            {`Remove "${confirming}"? Levels that page through it will fail to page (their HubSpot tasks are still created).`}
            {data?.defaultChannel === confirming
              ? ' It is the default channel: escalations will be HubSpot tasks only until you choose another default.'
              : ''}
          </Text>
          <Flex direction="row" gap="sm">
            <Button size="xs" variant="destructive" disabled={busy} onClick={() => void remove(confirming)}>
              Remove channel
            </Button>
            <Button size="xs" disabled={busy} onClick={() => setConfirming(null)}>
              Cancel
            </Button>
          </Flex>
        </Alert>
      )}
      {data?.canStore && (
        <Flex direction="row" gap="sm" wrap="wrap" align="end">
          <Input
            label="Channel id"
            name="channel-id"
            value={draft.id}
            description='e.g. "clinical-slack"'
            onChange={(v) => setDraft({ ...draft, id: v })}
          />
          <Select
            label="Kind"
            name="channel-kind"
            options={KINDS}
            value={draft.kind}
            onChange={(v) => setDraft({ ...draft, kind: v as Kind })}
          />
          {draft.kind === 'pagerduty' ? (
            <Input
              label="Integration key"
              name="channel-routing-key"
              value={draft.routingKey}
              onChange={(v) => setDraft({ ...draft, routingKey: v })}
              {...fieldError('routingKey')}
            />
          ) : (
            <Input
              label="Webhook URL"
              name="channel-url"
              value={draft.url}
              onChange={(v) => setDraft({ ...draft, url: v })}
              {...fieldError(draft.kind === 'webhook' ? 'url' : 'webhookUrl')}
            />
          )}
          {draft.kind === 'webhook' && (
            <Input
              label="Signing secret"
              name="channel-secret"
              value={draft.secret}
              onChange={(v) => setDraft({ ...draft, secret: v })}
              {...fieldError('secret')}
            />
          )}
          <Checkbox
            name="channel-default"
            checked={draft.makeDefault}
            onChange={(v) => setDraft({ ...draft, makeDefault: Boolean(v) })}
          >
            Default
          </Checkbox>
          <Button variant="primary" disabled={busy || draft.id === ''} onClick={() => void add()}>
            Add channel
          </Button>
        </Flex>
      )}
    </Flex>
  );
};
