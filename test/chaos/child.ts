/**
 * One Stagekeeper process of a chaos run: `CHAOS_ROLE=web` (HTTP only) or `worker` (workers only), against the
 * chaos Redis and the sandbox portal that lives in the parent (test) process, reached over HTTP.
 * Prints one `{"chaosReady":…}` line on stdout once it serves; SIGTERM drains and exits like production.
 */
import { loadConfig } from '@stagekeeper/sync-service/config';
import { createLogger } from '@stagekeeper/sync-service/log';
import { closeOnSignals } from '@stagekeeper/sync-service/service';
import { startStack } from '@stagekeeper/sync-service/stack';
import { buggyEngine, ENGINE_BUGS, type EngineBug } from './engine-bug';
import { chaosPlaybook } from './playbook';

const env = process.env;
const need = (name: string) => {
  const v = env[name];
  if (!v) throw new Error(`chaos child: ${name} is required`);
  return v;
};
const role = need('CHAOS_ROLE');
if (role !== 'web' && role !== 'worker')
  throw new Error(`chaos child: CHAOS_ROLE must be web or worker, got ${role}`);

const config = loadConfig({ ...env, SANDBOX: 'true', PORT: '0' });
const log = createLogger(config.logLevel);
// The run's fast clock, the same formula as the parent's (demo/clock.ts): origin plus real time times the speed.
const origin = Number(need('CHAOS_CLOCK_ORIGIN'));
const speed = Number(need('CHAOS_SPEED'));
const clock = () => Math.round(origin + (Date.now() - origin) * speed);
const bug = env.CHAOS_ENGINE_BUG as EngineBug | undefined;
if (bug !== undefined && !ENGINE_BUGS.includes(bug))
  throw new Error(`chaos child: unknown CHAOS_ENGINE_BUG ${bug}`);
const stack = await startStack({
  clock,
  ...(bug ? { engine: buggyEngine(bug) } : {}),
  config,
  playbook: chaosPlaybook(),
  remoteSandbox: {
    url: need('SANDBOX_URL'),
    portalId: need('SANDBOX_PORTAL_ID'),
    token: need('SANDBOX_TOKEN'),
    secret: need('SANDBOX_SECRET'),
  },
  http: role === 'web',
  workers: role === 'worker',
  host: '127.0.0.1',
  log,
});
closeOnSignals(stack, log);
process.stdout.write(
  `${JSON.stringify({ chaosReady: { role, pid: process.pid, url: stack.service.url } })}\n`,
);
