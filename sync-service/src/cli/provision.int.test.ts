import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@hubspot/api-client';
import { WRITTEN_BACK_PROPERTIES } from '@stagekeeper/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SandboxPortal, SandboxServer } from '../../../test/sandbox';
import { testPlaybook } from '../hubspot/test-playbook';
import { startSandboxPortal } from '../testing/sandbox-portal';
import { runCaptured } from './testing';

let portal: SandboxPortal;
let server: SandboxServer;
let playbookFile: string;

beforeAll(async () => {
  ({ portal, server } = await startSandboxPortal());
  playbookFile = join(mkdtempSync(join(tmpdir(), 'sk-prov-')), 'playbook.json');
  writeFileSync(playbookFile, JSON.stringify(testPlaybook()));
});

afterAll(async () => {
  await server.close();
});

// The sandbox stands in for HubSpot through the client's basePath; the CLI's own wiring is a plain token client.
const deps = () => ({
  hubspotClient: (accessToken: string) => new Client({ accessToken, basePath: server.url }),
});
const env = () => ({
  HUBSPOT_ACCESS_TOKEN: portal.privateAppToken,
  HUBSPOT_PORTAL_ID: String(portal.portalId),
});

describe('stagekeeper provision (static token) against the sandbox portal', () => {
  it('creates the properties, prints the report, and exits 1 while the playbook reads properties deals lack', async () => {
    const r = await runCaptured(['provision', '--playbook', playbookFile], env(), deps());
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain(`Created (${WRITTEN_BACK_PROPERTIES.length}):`);
    expect(r.stdout).toContain('"intake_form_received" used at pipelines[0].stages[0].exitCriteria[0]');
    expect(r.stdout.trimEnd().endsWith('NOT READY: fix the items marked ✗ and run again.')).toBe(true);
    expect(r.code).toBe(1);
  });

  it('a rejected token is one line naming the variable to fix', async () => {
    const r = await runCaptured(
      ['provision', '--playbook', playbookFile],
      { ...env(), HUBSPOT_ACCESS_TOKEN: 'pat-wrong' },
      deps(),
    );
    expect(r).toEqual({
      code: 1,
      stdout: '',
      stderr: 'error: HubSpot answered 401: the token was rejected; check HUBSPOT_ACCESS_TOKEN\n',
    });
  });
});
