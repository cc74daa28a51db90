/**
 * One Stagekeeper process for a benchmark, started by service-proc.ts: `BENCH_ROLE=all` (HTTP and workers),
 * `web` or `worker`, against the bench's Redis and the sandbox portal living in the parent, reached over HTTP as
 * HubSpot would be. Its own process so that its CPU (process.cpuUsage) and event-loop stalls are the service's
 * alone, not the sandbox's or the load generator's. Entry point used: startStack (sync-service/src/stack.ts).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { loadConfig } from '@stagekeeper/sync-service/config';
import { createLogger } from '@stagekeeper/sync-service/log';
import { closeOnSignals } from '@stagekeeper/sync-service/service';
import { startStack } from '@stagekeeper/sync-service/stack';
import { chaosPlaybook } from '../chaos/playbook';

const env = process.env;
const need = (name: string) => {
  const v = env[name];
  if (!v) throw new Error(`bench child: ${name} is required`);
  return v;
};
const role = need('BENCH_ROLE');
if (role !== 'all' && role !== 'web' && role !== 'worker')
  throw new Error(`bench child: BENCH_ROLE must be all, web or worker, got ${role}`);

const config = loadConfig({ ...env, SANDBOX: 'true', PORT: '0' });
const log = createLogger(config.logLevel);
const stack = await startStack({
  config,
  playbook: chaosPlaybook(),
  remoteSandbox: {
    url: need('SANDBOX_URL'),
    portalId: need('SANDBOX_PORTAL_ID'),
    token: need('SANDBOX_TOKEN'),
    secret: need('SANDBOX_SECRET'),
  },
  http: role !== 'worker',
  workers: role !== 'web',
  host: '127.0.0.1',
  log,
});
closeOnSignals(stack, log);
// The bench that started this process is gone (killed, crashed): so is its reason to run.
process.on('disconnect', () => process.exit(1));

const loop = monitorEventLoopDelay({ resolution: 5 });
loop.enable();
// The parent asks; answers carry this process's own figures only.
process.on('message', (m: { type: string; id: number }) => {
  if (m.type === 'cpu') process.send!({ id: m.id, cpu: process.cpuUsage() });
  if (m.type === 'loop') {
    process.send!({ id: m.id, loopMaxMs: loop.max / 1e6, loopP99Ms: loop.percentile(99) / 1e6 });
    loop.reset();
  }
});
process.stdout.write(
  `${JSON.stringify({ benchReady: { role, pid: process.pid, url: stack.service.url ?? null } })}\n`,
);
