import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { LATEST_SUPPORTED_PLATFORM_VERSION, parseProjectConfig } from '@hubspot/project-parsing-lib/projects';
import { translate } from '@hubspot/project-parsing-lib/translate';
import {
  collectWorkspaceDirectories,
  findAndParsePackageJsonFiles,
} from '@hubspot/project-parsing-lib/workspaces';

const run = promisify(execFile);
const srcDir = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(srcDir, '..');
const read = (rel: string) => fs.readFileSync(path.join(srcDir, rel), 'utf8');
const json = (rel: string) => JSON.parse(read(rel));
const serviceUrl = /SERVICE_URL = '([^']+)'/.exec(read('app/packages/client/src/config.ts'))?.[1] ?? '';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stagekeeper-app-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

type Verdict = { dir: string; ok: boolean; error?: string; components?: [string, string][] };

/** Runs the offline full validator (tools/validate.mjs) once over several project directories. */
async function validate(dirs: string[]): Promise<Map<string, Verdict>> {
  const args = ['--import', './hubspot-app/tools/register.mjs', 'hubspot-app/tools/validate.mjs', ...dirs];
  let stdout: string;
  try {
    stdout = (await run(process.execPath, args, { cwd: root })).stdout;
  } catch (e) {
    stdout = (e as { stdout: string }).stdout; // exit 1 is expected while broken copies are in the batch
  }
  const verdicts = stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Verdict);
  return new Map(verdicts.map((v) => [v.dir, v]));
}

/** A throwaway copy of the project (hsmeta files and sources, no node_modules) to break on purpose. */
function copyProject(name: string, mutate: (appDir: string) => void): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(path.join(dir, 'hubspot-app'), { recursive: true });
  fs.copyFileSync(path.join(root, 'hsproject.json'), path.join(dir, 'hsproject.json'));
  fs.cpSync(path.join(srcDir, 'app'), path.join(dir, 'hubspot-app', 'app'), {
    recursive: true,
    filter: (p) => !p.includes('node_modules'),
  });
  mutate(path.join(dir, 'hubspot-app', 'app'));
  return dir;
}

const editJson = (file: string, edit: (doc: Record<string, any>) => void) => {
  const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  edit(doc);
  fs.writeFileSync(file, JSON.stringify(doc));
};

// Child processes dominate the runtime, so those tests run side by side.
describe.concurrent('HubSpot project structure', () => {
  it('targets the newest platform version the parsing library supports', () => {
    const cfg = parseProjectConfig(root);
    expect(cfg).toMatchObject({ name: 'stagekeeper', srcDir: 'hubspot-app' });
    expect(cfg.platformVersion).toBe(LATEST_SUPPORTED_PLATFORM_VERSION);
  });

  it('parses into exactly the expected components, with no hsmeta file skipped', async () => {
    const cfg = parseProjectConfig(root);
    const r = await translate(
      { projectSourceDir: path.join(root, cfg.srcDir), platformVersion: cfg.platformVersion },
      { skipValidation: true },
    );
    expect(r.skippedHsMetaFiles).toEqual([]);
    const nodes = Object.values(r.intermediateRepresentation.intermediateNodesIndexedByUid) as {
      uid: string;
      componentType: string;
    }[];
    expect(Object.fromEntries(nodes.map((n) => [n.uid, n.componentType]))).toEqual({
      stagekeeper_app: 'APPLICATION',
      stagekeeper_deal_sla_card: 'CARD',
      stagekeeper_settings: 'SETTINGS',
      stagekeeper_pages: 'PAGE',
      stagekeeper_webhooks: 'WEBHOOKS',
    });
  });

  const broken: [string, (app: string) => void, string][] = [
    [
      'a card hsmeta one folder too deep',
      (app) => {
        fs.mkdirSync(path.join(app, 'cards', 'nested'));
        fs.renameSync(
          path.join(app, 'cards', 'deal-sla-card-hsmeta.json'),
          path.join(app, 'cards', 'nested', 'deal-sla-card-hsmeta.json'),
        );
      },
      'hsmeta files HubSpot would skip',
    ],
    [
      'a 2025.1-style top-level name',
      (app) => editJson(path.join(app, 'app-hsmeta.json'), (d) => (d.name = 'x')),
      'Unexpected top-level properties found: name',
    ],
    [
      'an OAuth app without the oauth scope',
      (app) => editJson(path.join(app, 'app-hsmeta.json'), (d) => d.config.auth.requiredScopes.shift()),
      'config.auth.requiredScopes',
    ],
    [
      'a missing entrypoint file',
      (app) => fs.rmSync(path.join(app, 'settings', 'SettingsPage.tsx')),
      'entrypoint /app/settings/SettingsPage.tsx does not exist',
    ],
    [
      'a property subscription without a property',
      (app) =>
        editJson(
          path.join(app, 'webhooks', 'webhooks-hsmeta.json'),
          (d) => delete d.config.subscriptions.crmObjects[4].propertyName,
        ),
      "Missing required field: 'config.subscriptions.crmObjects.4.propertyName'",
    ],
    [
      'an unknown card location',
      (app) =>
        editJson(
          path.join(app, 'cards', 'deal-sla-card-hsmeta.json'),
          (d) => (d.config.location = 'crm.record.tabs'),
        ),
      'config.location: must be equal to one of the allowed values',
    ],
  ];

  it('passes the offline full validator, which rejects deliberately broken copies', async () => {
    const copies = broken.map(([name, mutate]) => copyProject(name.replace(/\W+/g, '-'), mutate));
    const verdicts = await validate([root, ...copies]);
    expect(verdicts.get(root)).toMatchObject({
      ok: true,
      platformVersion: LATEST_SUPPORTED_PLATFORM_VERSION,
    });
    broken.forEach(([name, , message], i) => {
      const v = verdicts.get(copies[i]!);
      expect({ name, ok: v?.ok }).toEqual({ name, ok: false });
      expect(v?.error, name).toContain(message);
    });
  }, 60_000);

  it('every UI extension bundles offline with the HubSpot build tooling', async () => {
    const out = path.join(tmp, 'bundles');
    const { stdout } = await run(process.execPath, ['hubspot-app/tools/bundle.mjs', out], { cwd: root });
    const built = JSON.parse(stdout.trim().split('\n').pop()!) as {
      feature: string;
      bundle: string;
      bytes: number;
    }[];
    expect(built.map((b) => b.bundle).sort()).toEqual([
      'cards/DealSlaCard.js',
      'pages/Pages.js',
      'settings/SettingsPage.js',
    ]);
    for (const b of built) {
      expect(b.bytes).toBeGreaterThan(1_000);
      // The shared client (a workspace package, packages/client) is inlined into every extension's bundle.
      const js = fs.readFileSync(path.join(out, b.bundle), 'utf8');
      expect(js, b.bundle).toContain(serviceUrl);
      expect(js, b.bundle).toContain('appServerStatusCode');
      // The API types come from the service's code as `import type`: erased, so none of it is bundled.
      const manifest = fs.readFileSync(path.join(out, b.bundle.replace(/\.js$/, '-manifest.json')), 'utf8');
      const modules = (JSON.parse(manifest).modules.internal as { module: string }[]).map((m) => m.module);
      expect(modules).toContain(path.join(srcDir, 'app/packages/client/src/service.ts'));
      const fromService = modules.filter((m) => /^(shared|sync-service)\//.test(path.relative(root, m)));
      expect(fromService, b.bundle).toEqual([]);
    }
  }, 60_000);
});

describe('HubSpot app configuration', () => {
  const app = json('app/app-hsmeta.json').config;
  const hooks = json('app/webhooks/webhooks-hsmeta.json').config;

  it('names one service origin everywhere: fetch allow-list, OAuth callback, webhook target and UI clients', () => {
    expect(serviceUrl).toMatch(/^https:\/\/[^/]+$/);
    expect(app.permittedUrls.fetch).toEqual([serviceUrl]);
    expect(app.auth.redirectUrls).toEqual([`${serviceUrl}/oauth/callback`]);
    expect(hooks.settings.targetUrl).toBe(`${serviceUrl}/webhooks/hubspot`);
  });

  it('shares one client through the app workspace, the way `hs project upload` collects it', async () => {
    // The CLI's upload walks srcDir's package.json files with these two calls; workspaces inside srcDir
    // travel in the archive and HubSpot's build installs them from app/package.json.
    const parsed = await findAndParsePackageJsonFiles(srcDir);
    const members = (await collectWorkspaceDirectories(parsed)).map((m) =>
      path.relative(srcDir, m.workspaceDir),
    );
    expect(members.sort()).toEqual(['app/cards', 'app/packages/client', 'app/pages', 'app/settings']);
    for (const folder of ['cards', 'settings', 'pages']) {
      expect(json(`app/${folder}/package.json`).dependencies, folder).toHaveProperty(
        '@stagekeeper/app-client',
      );
      // No per-folder copy left to drift from the shared one.
      for (const copy of ['lib/service.ts', 'lib/config.ts', 'test/fakeFetch.ts'])
        expect(fs.existsSync(path.join(srcDir, 'app', folder, copy)), `${folder}/${copy}`).toBe(false);
    }
  });

  it('is an OAuth app asking only for the scopes the service uses', () => {
    expect(app.auth.type).toBe('oauth');
    expect(app.auth.requiredScopes).toEqual([
      'oauth',
      'crm.objects.deals.read',
      'crm.objects.deals.write',
      'crm.objects.contacts.read',
      'crm.objects.contacts.write',
      'crm.objects.owners.read',
      'crm.schemas.deals.write',
    ]);
    // Sensitive Data portals keep clinical properties behind this one (issue 13); read only, and optional.
    expect(app.auth.optionalScopes).toEqual(['crm.objects.deals.sensitive.read.v2']);
  });

  it('subscribes to deal lifecycle events and the stage, pipeline and owner properties', () => {
    const subs = hooks.subscriptions.crmObjects as {
      subscriptionType: string;
      objectType: string;
      propertyName?: string;
      active: boolean;
    }[];
    expect(subs.every((s) => s.objectType === 'deal' && s.active)).toBe(true);
    const types = subs.filter((s) => !s.propertyName).map((s) => s.subscriptionType);
    expect(types.sort()).toEqual(['object.creation', 'object.deletion', 'object.merge', 'object.restore']);
    const props = subs.filter((s) => s.propertyName).map((s) => s.propertyName);
    expect(props).toEqual(expect.arrayContaining(['dealstage', 'pipeline', 'hubspot_owner_id']));
    expect(new Set(props).size).toBe(props.length);
  });
});
