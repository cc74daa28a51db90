/**
 * One Stagekeeper process for a benchmark, started by service-proc.ts: `BENCH_ROLE=all` (HTTP and workers),
 * `web` or `worker`, against the bench's Redis and the sandbox portal living in the parent, reached over HTTP as
 * HubSpot would be (chaos/child-stack.ts, as the chaos run's children). Its own process so that its CPU
 * (process.cpuUsage) and event-loop stalls are the service's alone, not the sandbox's or the load generator's.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { requireEnv, startChildStack } from '../chaos/child-stack';

const role = requireEnv('bench child', 'BENCH_ROLE');
if (role !== 'all' && role !== 'web' && role !== 'worker')
  throw new Error(`bench child: BENCH_ROLE must be all, web or worker, got ${role}`);

const stack = await startChildStack('bench child', { http: role !== 'worker', workers: role !== 'web' });
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
