import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadExamplePlaybook } from '@stagekeeper/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteKeys, REDIS_URL } from '../e2e/harness';
import { until } from './until';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PREFIX = `sk-sandbox-bd-${randomUUID().slice(0, 8)}`;
// Inside the repository (gitignored), as dist/ is: the bundle's npm imports resolve from the root node_modules.
const out = path.join(ROOT, 'test', 'artifacts', `build-${randomUUID().slice(0, 8)}`);

const deps = (pkg: string) =>
  Object.keys(
    (JSON.parse(readFileSync(path.join(ROOT, pkg, 'package.json'), 'utf8')) as { dependencies: object })
      .dependencies,
  );
/** Bare imports of a built file, and the files it imports statically (dynamic imports are lazily loaded chunks). */
function imports(file: string): { packages: string[]; files: string[] } {
  const src = readFileSync(path.join(out, file), 'utf8');
  const stat = [...src.matchAll(/^(?:import|export)\b[^;]*?from\s*"([^"]+)"|^import\s*"([^"]+)"/gm)].map(
    (m) => (m[1] ?? m[2])!,
  );
  return {
    packages: stat.filter((s) => !s.startsWith('.') && !s.startsWith('node:')),
    files: stat.filter((s) => s.startsWith('./')),
  };
}

beforeAll(() => {
  const r = spawnSync(process.execPath, ['sync-service/build.mjs', '--outdir', out], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  expect(r.status, r.stderr).toBe(0);
});

afterAll(async () => {
  rmSync(out, { recursive: true, force: true });
  await deleteKeys(PREFIX);
});

describe('npm run build: the service and the CLI as JavaScript', () => {
  it('the built CLI runs without tsx', () => {
    const help = spawnSync(process.execPath, [path.join(out, 'cli.js'), '--help'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/scorecard/);
    const valid = spawnSync(
      process.execPath,
      [path.join(out, 'cli.js'), 'playbook', 'validate', 'shared/playbooks/telehealth-intake.yaml'],
      { cwd: ROOT, encoding: 'utf8' },
    );
    const stages = loadExamplePlaybook('telehealth').pipelines.reduce((n, p) => n + p.stages.length, 0);
    expect(valid).toMatchObject({ status: 0, stdout: `valid: 1 pipelines, ${stages} stages\n` });
  });

  it('what production loads imports only the runtime dependencies (npm ci --omit=dev is enough)', () => {
    const allowed = new Set([...deps('sync-service'), ...deps('shared')]);
    const seen = new Set<string>();
    const queue = ['main.js', 'cli.js'];
    while (queue.length) {
      const f = queue.shift()!;
      if (seen.has(f)) continue;
      seen.add(f);
      const { packages, files } = imports(f);
      for (const p of packages)
        expect(allowed, `${f} imports ${p}`).toContain(
          p.startsWith('@') ? p.split('/').slice(0, 2).join('/') : p.split('/')[0],
        );
      queue.push(...files.map((x) => x.slice(2)));
    }
    expect(seen.size).toBeGreaterThan(2); // main, cli and their shared chunk at least
  });

  it('the built service starts (sandbox, default playbook found beside the sources) and stops on SIGTERM', async () => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      KEY_PREFIX: PREFIX,
      PORT: '0',
      REDIS_URL,
      DEMO: 'false',
      LOG_LEVEL: 'warn',
    };
    for (const k of ['HUBSPOT_ACCESS_TOKEN', 'HUBSPOT_CLIENT_ID', 'SANDBOX', 'PLAYBOOK_FILE']) delete env[k];
    const child = spawn(process.execPath, [path.join(out, 'main.js')], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const page = await until(
        'the ops page line',
        async () => /Ops page: (http:\/\/\S+)/.exec(stdout)?.[1],
        30_000,
      ).catch((err) => {
        throw new Error(`${(err as Error).message}\nstdout:\n${stdout}\nstderr:\n${stderr}`);
      });
      expect((await fetch(`${page}readyz`)).status).toBe(200);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited, stderr).toBe(0);
  });
});
