import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const appDir = fileURLToPath(new URL('../app', import.meta.url));
const tool = fileURLToPath(new URL('./set-origin.mjs', import.meta.url));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sk-origin-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A copy of the app's config files (not its node_modules) to run the tool on. */
function copyApp(name: string): string {
  const dir = path.join(tmp, name);
  fs.cpSync(appDir, dir, { recursive: true, filter: (src) => !src.includes('node_modules') });
  return dir;
}

async function setOrigin(dir: string, origin: string) {
  try {
    const { stdout, stderr } = await run(process.execPath, [tool, origin, '--app-dir', dir]);
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/** Every place HubSpot reads the service's origin from, as project.test.ts checks them. */
function origins(dir: string) {
  const read = (rel: string) => fs.readFileSync(path.join(dir, rel), 'utf8');
  const app = JSON.parse(read('app-hsmeta.json')).config;
  const hooks = JSON.parse(read('webhooks/webhooks-hsmeta.json')).config;
  return {
    ui: /SERVICE_URL = '([^']+)'/.exec(read('packages/client/src/config.ts'))?.[1],
    fetch: app.permittedUrls.fetch,
    redirect: app.auth.redirectUrls,
    webhook: hooks.settings.targetUrl,
    docs: app.support.documentationUrl,
  };
}

describe('npm run app:set-origin', () => {
  it('sets the origin in every file HubSpot reads it from, and can move it again', async () => {
    const dir = copyApp('move');
    const first = await setOrigin(dir, 'https://sk.clinic-one.org');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(
      '-> https://sk.clinic-one.org in packages/client/src/config.ts, app-hsmeta.json, webhooks/webhooks-hsmeta.json',
    );
    expect(origins(dir)).toEqual({
      ui: 'https://sk.clinic-one.org',
      fetch: ['https://sk.clinic-one.org'],
      redirect: ['https://sk.clinic-one.org/oauth/callback'],
      webhook: 'https://sk.clinic-one.org/webhooks/hubspot',
      docs: 'https://sk.clinic-one.org/docs',
    });
    // A trailing slash is the same origin; a second run moves from the new one.
    expect((await setOrigin(dir, 'https://sk.clinic-two.org:8443/')).code).toBe(0);
    expect(origins(dir).webhook).toBe('https://sk.clinic-two.org:8443/webhooks/hubspot');
    expect((await setOrigin(dir, 'https://sk.clinic-two.org:8443')).stdout).toContain(
      'already https://sk.clinic-two.org:8443',
    );
  });

  it('refuses what HubSpot cannot call, and changes nothing', async () => {
    const dir = copyApp('refuse');
    const before = origins(dir);
    for (const [bad, why] of [
      ['http://sk.clinic.org', /HTTPS only/],
      ['https://sk.clinic.org/stagekeeper', /origin only/],
      ['sk.clinic.org', /not a URL/],
    ] as const) {
      const r = await setOrigin(dir, bad);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(why);
    }
    expect(origins(dir)).toEqual(before);
  });
});
