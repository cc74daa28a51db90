import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { deleteKeys, REDIS_URL } from '../e2e/harness';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PREFIX = `sk-sandbox-se-${randomUUID().slice(0, 8)}`;

/** The service's entry point as `npm start` runs it, with this environment; resolves when it exits. */
function start(
  vars: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['HUBSPOT_ACCESS_TOKEN', 'HUBSPOT_CLIENT_ID', 'SANDBOX', 'LOG_LEVEL', 'PLAYBOOK_FILE'])
    delete env[k];
  Object.assign(env, { KEY_PREFIX: PREFIX, PORT: '0', REDIS_URL, DEMO: 'false', ...vars });
  const child = spawn(process.execPath, ['--import', 'tsx', 'sync-service/src/main.ts'], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  children.push(child);
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

const listen = (server: Server, port = 0) =>
  new Promise<number>((resolve) =>
    server.listen(port, '127.0.0.1', () => resolve((server.address() as { port: number }).port)),
  );

const servers: Server[] = [];
const children: ChildProcess[] = [];
afterAll(async () => {
  for (const s of servers) s.close();
  // A start that wrongly succeeded keeps running: it must not outlive the test.
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await deleteKeys(PREFIX);
});

describe('start-up failures are one line naming the variable and the fix', () => {
  it('an unreachable REDIS_URL', async () => {
    // A port nothing listens on: taken and released again.
    const probe = createServer();
    const port = await listen(probe);
    await new Promise((r) => probe.close(r));
    const r = await start({ REDIS_URL: `redis://127.0.0.1:${port}`, REDIS_WAIT_SECONDS: '1' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(
        `^REDIS_URL: no answer from the Redis at 127\\.0\\.0\\.1:${port} within 1 s \\(.*\\): start it, or fix REDIS_URL .*\\n$`,
      ),
    );
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('a PORT another process listens on', async () => {
    const busy = createServer();
    servers.push(busy);
    const port = await listen(busy);
    const r = await start({ PORT: String(port) });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `PORT ${port} is already in use: stop the process listening there, or set PORT to a free port (PORT=0 picks one)\n`,
    );
  });

  it('a PLAYBOOK_FILE that cannot be read (a playbook with errors lists each with its line, under the same name)', async () => {
    const r = await start({ PLAYBOOK_FILE: '/nonexistent/playbook.yaml' });
    expect(r).toMatchObject({
      code: 1,
      stderr: 'PLAYBOOK_FILE: /nonexistent/playbook.yaml: cannot read the file (ENOENT)\n',
    });
  });

  it('a DEMO value that is neither true nor false', async () => {
    const r = await start({ DEMO: 'fasle' });
    expect(r).toMatchObject({
      code: 1,
      stderr:
        'invalid configuration: DEMO: expected true or false (false runs the sandbox without the demo driver)\n',
    });
  });
});
