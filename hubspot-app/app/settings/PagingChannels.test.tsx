import React from 'react';
import { describe, expect, it } from 'vitest';
import { createRenderer } from '@hubspot/ui-extensions/testing';
import { Alert, Button, Input, Select, StatusTag, Text } from '@hubspot/ui-extensions';
import { PagingChannels, type ChannelsResponse } from './components/PagingChannels.tsx';
import { createServiceClient } from '@stagekeeper/app-client/service';
import { fakeFetch, type Call } from '@stagekeeper/app-client/fake-fetch';

const BASE = 'https://stagekeeper.example.com';

const listing = (over: Partial<ChannelsResponse> = {}): ChannelsResponse => ({
  canStore: true,
  defaultChannel: 'ops-slack',
  channels: [
    {
      id: 'ops-slack',
      kind: 'slack',
      target: 'hooks.slack.com (…wxyz)',
      isDefault: true,
      health: { state: 'ok', consecutiveFailures: 0, lastError: null, lastFailureAt: null },
    },
    {
      id: 'pd',
      kind: 'pagerduty',
      target: 'routing key …QQQQ',
      isDefault: false,
      health: { state: 'failing', consecutiveFailures: 4, lastError: 'invalid_event', lastFailureAt: 1 },
    },
  ],
  ...over,
});

function setup(
  onPut: (call: Call) => { status?: number; body: unknown } = () => ({ body: listing() }),
  initial = listing(),
) {
  const renderer = createRenderer('settings');
  const fetch = fakeFetch((call) => (call.method === 'PUT' ? onPut(call) : { body: initial }));
  renderer.render(<PagingChannels client={createServiceClient(BASE, fetch)} />);
  return { ...renderer, fetch };
}

describe('PagingChannels', () => {
  it('lists channels masked with their health, and calls out a failing one (its HubSpot tasks still stand)', async () => {
    const t = setup();
    await t.waitFor(() => expect(t.findByTestId(StatusTag, 'health-pd').text).toBe('Failing'));
    expect(t.findByTestId(StatusTag, 'health-ops-slack').text).toBe('Delivering');
    expect(t.find(Alert, (a) => a.props.title === 'Channel "pd" is failing')).toBeTruthy();
    expect(t.findByTestId(Text, 'failing-pd').text).toContain(
      '4 failed deliveries in a row (last: invalid_event)',
    );
    expect(t.findByTestId(Text, 'failing-pd').text).toContain('HubSpot tasks are still created');
  });

  it("adds a channel with a PUT of its config, and shows the service's field error next to the input", async () => {
    const t = setup((call) =>
      call.url.endsWith('/api/settings/channels/oncall')
        ? {
            status: 400,
            body: {
              error: {
                code: 'invalid_request',
                message: 'The channel settings are not valid.',
                issues: [{ path: ['url'], message: 'expected an https:// URL' }],
              },
            },
          }
        : { body: listing() },
    );
    await t.waitFor(() => expect(t.findByTestId(StatusTag, 'health-pd').text).toBe('Failing'));
    t.find(Input, { name: 'channel-id' }).trigger('onChange', 'oncall' as never);
    t.find(Select, { name: 'channel-kind' }).trigger('onChange', 'webhook' as never);
    await t.waitFor(() => expect(t.maybeFind(Input, { name: 'channel-secret' })).not.toBeNull());
    t.find(Input, { name: 'channel-url' }).trigger('onChange', 'http://tools.example.com/page' as never);
    t.find(Input, { name: 'channel-secret' }).trigger('onChange', 'a-long-enough-secret' as never);
    t.find(Button, (b) => b.text === 'Add channel').trigger('onClick');
    await t.waitFor(() =>
      expect(t.find(Input, { name: 'channel-url' }).props.validationMessage).toBe('expected an https:// URL'),
    );
    const put = t.fetch.calls.find((c) => c.method === 'PUT')!;
    expect(put).toMatchObject({
      url: `${BASE}/api/settings/channels/oncall`,
      body: {
        config: { kind: 'webhook', url: 'http://tools.example.com/page', secret: 'a-long-enough-secret' },
        makeDefault: false,
      },
    });
  });

  it('makes another channel the default', async () => {
    const t = setup((call) => ({
      body: listing({ defaultChannel: (call.body as { channel: string }).channel }),
    }));
    await t.waitFor(() => expect(t.findByTestId(StatusTag, 'health-pd').text).toBe('Failing'));
    t.find(Button, (b) => b.text === 'Make default').trigger('onClick');
    await t.waitFor(() => expect(t.fetch.calls.some((c) => c.method === 'PUT')).toBe(true));
    expect(t.fetch.calls.find((c) => c.method === 'PUT')).toMatchObject({
      url: `${BASE}/api/settings/channels-default`,
      body: { channel: 'pd' },
    });
  });

  it('sends a test page and says what the service answered', async () => {
    const renderer = createRenderer('settings');
    const fetch = fakeFetch((call) =>
      call.method === 'POST'
        ? { body: { ok: false, code: 'channel_not_found', ...listing() } }
        : { body: listing() },
    );
    renderer.render(<PagingChannels client={createServiceClient(BASE, fetch)} />);
    await renderer.waitFor(() => expect(renderer.findByTestId(StatusTag, 'health-pd').text).toBe('Failing'));
    renderer.findAll(Button, (b) => b.text === 'Send test page')[0]!.trigger('onClick');
    await renderer.waitFor(() =>
      expect(renderer.findByTestId(Text, 'test-result').text).toBe('The service answered channel_not_found.'),
    );
    expect(fetch.calls.find((c) => c.method === 'POST')).toMatchObject({
      url: `${BASE}/api/settings/channels/ops-slack/test`,
    });
  });
});

describe('PagingChannels: removing a channel', () => {
  function withDelete() {
    const renderer = createRenderer('settings');
    const afterRemoval = listing({ channels: listing().channels.filter((c) => c.id !== 'pd') });
    let removed = false;
    const fetch = fakeFetch((call) => {
      if (call.method === 'DELETE') {
        removed = true;
        return { body: afterRemoval };
      }
      return { body: removed ? afterRemoval : listing() };
    });
    renderer.render(<PagingChannels client={createServiceClient(BASE, fetch)} />);
    return { ...renderer, fetch };
  }
  const removeButton = (t: ReturnType<typeof withDelete>, id: string) =>
    t.find(Button, (b) => b.props.testId === `remove-${id}`);

  it('asks to confirm, then sends a DELETE for that channel and shows the listing without it', async () => {
    const t = withDelete();
    await t.waitFor(() => expect(t.findByTestId(StatusTag, 'health-pd').text).toBe('Failing'));
    removeButton(t, 'pd').trigger('onClick');
    await t.waitFor(() => expect(t.findByTestId(Text, 'confirm-remove').text).toContain('Remove "pd"?'));
    expect(t.fetch.calls.some((c) => c.method === 'DELETE')).toBe(false);
    t.find(Button, (b) => b.text === 'Remove channel').trigger('onClick');
    await t.waitFor(() => expect(t.maybeFindByTestId(StatusTag, 'health-pd')).toBeNull());
    expect(t.fetch.calls.filter((c) => c.method === 'DELETE')).toEqual([
      { url: `${BASE}/api/settings/channels/pd`, method: 'DELETE' },
    ]);
    expect(t.findByTestId(StatusTag, 'health-ops-slack').text).toBe('Delivering');
    expect(t.maybeFind(Alert, (a) => a.props.title === 'Channel "pd" is failing')).toBeNull();
  });

  it('warns that removing the default leaves escalations as HubSpot tasks only; cancel sends nothing', async () => {
    const t = withDelete();
    await t.waitFor(() => expect(t.findByTestId(StatusTag, 'health-ops-slack').text).toBe('Delivering'));
    removeButton(t, 'ops-slack').trigger('onClick');
    await t.waitFor(() =>
      expect(t.findByTestId(Text, 'confirm-remove').text).toContain('It is the default channel'),
    );
    t.find(Button, (b) => b.text === 'Cancel').trigger('onClick');
    await t.waitFor(() => expect(t.maybeFindByTestId(Text, 'confirm-remove')).toBeNull());
    expect(t.fetch.calls.some((c) => c.method === 'DELETE')).toBe(false);
  });

  it("shows the service's refusal (e.g. a user without settings rights) and keeps the channel", async () => {
    const renderer = createRenderer('settings');
    const fetch = fakeFetch((call) =>
      call.method === 'DELETE'
        ? {
            status: 403,
            body: {
              error: {
                code: 'forbidden',
                message: 'Only HubSpot super admins can change Stagekeeper settings.',
              },
            },
          }
        : { body: listing() },
    );
    renderer.render(<PagingChannels client={createServiceClient(BASE, fetch)} />);
    await renderer.waitFor(() => expect(renderer.findByTestId(StatusTag, 'health-pd').text).toBe('Failing'));
    renderer.find(Button, (b) => b.props.testId === 'remove-pd').trigger('onClick');
    await renderer.waitFor(() =>
      expect(renderer.find(Button, (b) => b.text === 'Remove channel')).toBeTruthy(),
    );
    renderer.find(Button, (b) => b.text === 'Remove channel').trigger('onClick');
    await renderer.waitFor(() =>
      expect(renderer.find(Alert, (a) => a.props.title === 'Paging channels').text).toContain(
        'Only HubSpot super admins',
      ),
    );
    expect(renderer.findByTestId(StatusTag, 'health-pd').text).toBe('Failing');
  });
});
