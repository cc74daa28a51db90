import React from 'react';
import { describe, expect, it } from 'vitest';
import { createRenderer } from '@hubspot/ui-extensions/testing';
import {
  Alert,
  Button,
  EmptyState,
  ErrorState,
  Heading,
  Input,
  NumberInput,
  Select,
  StatusTag,
  Text,
} from '@hubspot/ui-extensions';
import { SettingsPage } from './SettingsPage.tsx';
import { SERVICE_URL } from '@stagekeeper/app-client/config';
import type { PlaybookDoc } from '@stagekeeper/app-client/api';
import { eventually, fakeFetch, type Call } from '@stagekeeper/app-client/fake-fetch';
import { playbook, playbookResponse, status } from './test/fixtures.ts';

// trigger() types its argument as the handler itself, so event values are cast.
const BASE = SERVICE_URL;
const TARGET_0 = 'pipelines.0.stages.0.sla.target';
const WARN_0 = 'pipelines.0.stages.0.sla.warningAt';
const ROLE_1 = 'pipelines.0.stages.1.ownerRole';

type Reply = { status?: number; body: unknown };

function setup(onPut: (call: Call) => Reply = (c) => ({ body: saved(c) }), onGetPlaybook?: () => Reply) {
  const renderer = createRenderer('settings');
  const fetch = fakeFetch((call) => {
    if (call.url === `${BASE}/api/settings/status`) return { body: status() };
    if (call.url === `${BASE}/api/settings/channels`)
      return { body: { canStore: true, defaultChannel: null, channels: [] } };
    if (call.method === 'PUT') return onPut(call);
    return onGetPlaybook ? onGetPlaybook() : { body: playbookResponse() };
  });
  renderer.render(<SettingsPage fetcher={fetch} />);
  const field = (name: string) => renderer.find(Input, { name });
  const save = () => renderer.find(Button, (n) => n.text === 'Save as new version');
  const puts = () => fetch.calls.filter((c) => c.method === 'PUT');
  return { ...renderer, fetch, field, save, puts };
}

/** What a service that accepts the PUT answers: the same playbook under the next version. */
function saved(call: Call) {
  const doc = (call.body as { playbook: PlaybookDoc }).playbook;
  return { ...playbookResponse({ ...doc, version: 4 }), version: 4 };
}

const ready = async (t: ReturnType<typeof setup>) =>
  t.waitFor(() => expect(t.field(TARGET_0).props.value).toBe('4h'));

describe('SettingsPage', () => {
  it('shows install and provisioning status and the playbook per pipeline and stage', async () => {
    const t = setup();
    await ready(t);
    await t.waitFor(() => expect(t.findByTestId(StatusTag, 'install-status').text).toBe('Connected'));
    expect(t.findByTestId(StatusTag, 'provisioning-status').text).toBe('Properties provisioned (13/13)');
    expect(t.fetch.calls.map((c) => `${c.method} ${c.url}`).sort()).toEqual([
      `GET ${BASE}/api/settings/channels`,
      `GET ${BASE}/api/settings/playbook`,
      `GET ${BASE}/api/settings/status`,
    ]);
    expect(t.find(NumberInput, { name: WARN_0 }).props.value).toBe(75);
    expect(t.find(Select, { name: ROLE_1 }).props.value).toBe('clinical');
    expect(t.find(Select, { name: 'pipelines.0.stages.1.sla.calendar' }).props.value).toBe('on_call');
    expect(t.maybeFind(Input, { name: 'pipelines.0.stages.2.sla.target' })).toBeNull();
    expect(t.findAll(Heading).map((h) => h.text)).toContain('Playbook: Telehealth intake (version 3)');
    expect(t.save().props.disabled).toBe(true);
  });

  it('rejects a malformed duration next to the field, with the service wording, and blocks the save', async () => {
    const t = setup();
    await ready(t);
    t.field(TARGET_0).trigger('onChange', '4 hrs' as never);
    await t.waitFor(() => expect(t.field(TARGET_0).props.error).toBe(true));
    expect(t.field(TARGET_0).props.validationMessage).toBe(
      'expected a duration like "4h" or "15m", got "4 hrs"',
    );
    expect(t.save().props.disabled).toBe(true);
    expect(t.findByTestId(Text, 'fix-fields').text).toBe('Fix the highlighted fields to save.');

    t.save().trigger('onClick');
    await new Promise((r) => setTimeout(r, 20));
    expect(t.puts()).toHaveLength(0);
  });

  it('rejects a warning threshold outside 1-99', async () => {
    const t = setup();
    await ready(t);
    t.find(NumberInput, { name: WARN_0 }).trigger('onChange', 120 as never);
    await t.waitFor(() => expect(t.find(NumberInput, { name: WARN_0 }).props.error).toBe(true));
    expect(t.find(NumberInput, { name: WARN_0 }).props.validationMessage).toBe(
      'expected a warning threshold from 1 to 99 (% of the SLA window), got 120',
    );
    expect(t.save().props.disabled).toBe(true);
  });

  it('PUTs a valid edit as a new version, keeping every field it does not edit', async () => {
    const t = setup();
    await ready(t);
    t.field(TARGET_0).trigger('onChange', '1h30m' as never);
    await t.waitFor(() => expect(t.field(TARGET_0).props.value).toBe('1h30m'));
    t.find(Select, { name: ROLE_1 }).trigger('onChange', 'intake' as never);
    await t.waitFor(() => expect(t.save().props.disabled).toBe(false));
    expect(t.field(TARGET_0).props.error).toBe(false);

    t.save().trigger('onClick');
    await eventually(() => expect(t.mocks.actions.addAlert.callCount).toBe(1));
    const expected = playbook();
    expected.pipelines[0]!.stages[0]!.sla!.target = '1h30m';
    expected.pipelines[0]!.stages[1]!.ownerRole = 'intake';
    expect(t.puts()).toEqual([
      { url: `${BASE}/api/settings/playbook`, method: 'PUT', body: { baseVersion: 3, playbook: expected } },
    ]);
    expect(t.mocks.actions.addAlert.calls[0]![0]).toEqual({
      type: 'success',
      message: 'Playbook saved as version 4.',
    });
    await t.waitFor(() =>
      expect(t.findAll(Heading).map((h) => h.text)).toContain('Playbook: Telehealth intake (version 4)'),
    );
  });

  const rejection = {
    error: {
      code: 'invalid_playbook',
      message: 'The playbook has 2 problems',
      issues: [
        {
          path: ['pipelines', 0, 'stages', 1, 'ownerRole'],
          message: 'role "intake" has no owners in this portal',
        },
        { path: ['roles', 0, 'lead'], message: 'expected a HubSpot owner id (digits)' },
      ],
    },
  };
  it.each<[string, Reply]>([
    ['as a plain 400', { status: 400, body: rejection }],
    [
      "wrapped by HubSpot's fetch proxy",
      {
        status: 200,
        body: {
          status: 'error',
          category: 'BAD_GATEWAY',
          message: 'Error returned from Request Uri',
          responseBody: rejection,
          context: { appServerStatusCode: ['400'] },
        },
      },
    ],
  ])('shows server-side errors by path next to their field (%s)', async (_, reply) => {
    const t = setup(() => reply);
    await ready(t);
    t.find(Select, { name: ROLE_1 }).trigger('onChange', 'intake' as never);
    await t.waitFor(() => expect(t.save().props.disabled).toBe(false));
    t.save().trigger('onClick');

    await t.waitFor(() => expect(t.find(Select, { name: ROLE_1 }).props.error).toBe(true));
    expect(t.find(Select, { name: ROLE_1 }).props.validationMessage).toBe(
      'role "intake" has no owners in this portal',
    );
    const other = t.find(Alert, { title: 'The service rejected the playbook' });
    expect(other.find(Text).text).toBe('roles.0.lead: expected a HubSpot owner id (digits)');
    expect(t.mocks.actions.addAlert.calls[0]![0]).toMatchObject({
      type: 'danger',
      message: 'The playbook has 2 problems',
    });

    // Touching the field answers the complaint; the service re-checks on the next save.
    t.find(Select, { name: ROLE_1 }).trigger('onChange', 'clinical' as never);
    await t.waitFor(() => expect(t.find(Select, { name: ROLE_1 }).props.error).toBe(false));
  });

  it('asks to reload when someone saved a newer version first', async () => {
    const t = setup(() => ({
      status: 409,
      body: { error: { code: 'version_conflict', message: 'Version 4 exists' } },
    }));
    await ready(t);
    t.field(TARGET_0).trigger('onChange', '5h' as never);
    await t.waitFor(() => expect(t.save().props.disabled).toBe(false));
    t.save().trigger('onClick');
    await t.waitFor(() => expect(t.find(Alert, { title: 'Someone saved a newer version' })).toBeTruthy());
  });

  it('shows an empty state when the portal has no playbook yet', async () => {
    const t = setup(undefined, () => ({ body: playbookResponse(null) }));
    await t.waitFor(() => expect(t.find(EmptyState).props.title).toBe('No playbook yet'));
  });

  it('publishes the starter playbook the service offers as the first version, without the CLI', async () => {
    const starter = { ...playbook(), version: 0 };
    const t = setup(
      (c) => ({
        body: {
          ...playbookResponse({ ...(c.body as { playbook: PlaybookDoc }).playbook, version: 1 }),
          version: 1,
        },
      }),
      () => ({ body: { ...playbookResponse(null), starter } }),
    );
    const publish = () => t.find(Button, (n) => n.text === 'Publish the Telehealth intake playbook');
    await t.waitFor(() => expect(publish()).toBeTruthy());
    expect(t.find(EmptyState).props.title).toBe('No playbook yet');
    publish().trigger('onClick');
    await eventually(() => expect(t.puts()).toHaveLength(1));
    expect(t.puts()[0]!.body).toEqual({ baseVersion: null, playbook: starter });
    await t.waitFor(() =>
      expect(t.findAll(Heading).map((h) => h.text)).toContain('Playbook: Telehealth intake (version 1)'),
    );
    expect(t.mocks.actions.addAlert.calls[0]![0]).toMatchObject({
      type: 'success',
      message: 'Playbook saved as version 1.',
    });
  });

  it('names each property the playbook reads without a webhook subscription, with the fix', async () => {
    const fix =
      'add {"subscriptionType":"object.propertyChange","objectType":"deal","propertyName":"intake_summary","active":true} to webhooks-hsmeta.json';
    const t = setup(undefined, () => ({
      body: {
        ...playbookResponse(),
        unsubscribedProperties: [
          { property: 'intake_summary', at: ['pipelines[0].stages[0].exitCriteria[0]'], fix },
        ],
      },
    }));
    await ready(t);
    expect(t.find(Alert, { title: '1 property is read without a webhook subscription' })).toBeTruthy();
    expect(t.findByTestId(Text, 'unsubscribed-intake_summary').text).toBe(
      `intake_summary (read at pipelines[0].stages[0].exitCriteria[0]): ${fix}`,
    );
  });

  it('shows no subscription warning when every property is subscribed', async () => {
    const t = setup(undefined, () => ({ body: { ...playbookResponse(), unsubscribedProperties: [] } }));
    await ready(t);
    expect(t.maybeFind(Alert, (n) => String(n.props.title).includes('webhook subscription'))).toBeNull();
  });

  it('shows an error state when the playbook cannot be loaded, and retries', async () => {
    let attempt = 0;
    const t = setup(undefined, () =>
      ++attempt === 1
        ? { status: 500, body: { error: { code: 'internal', message: 'Redis is down' } } }
        : { body: playbookResponse() },
    );
    await t.waitFor(() => expect(t.find(ErrorState).find(Text).text).toBe('Redis is down'));
    t.find(ErrorState).find(Button).trigger('onClick');
    await ready(t);
  });
});
