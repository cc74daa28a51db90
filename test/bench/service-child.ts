/**
 * One Stagekeeper process for a benchmark, started by service-proc.ts: `BENCH_ROLE=all` (HTTP and workers),
 * `web` or `worker`, against the bench's Redis and the sandbox portal living in the parent, reached over HTTP as
 * HubSpot would be (chaos/child-stack.ts, as the chaos run's children), playing `BENCH_PLAYBOOK` (bench, the
 * default, or chaos: test/bench/playbook.ts). Its own process so that its CPU (process.cpuUsage), event-loop stalls
 * and timer firings are the service's alone, not the sandbox's or the load generator's.
 */
import { Session } from 'node:inspector/promises';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { requireEnv, startChildStack } from '../chaos/child-stack';
import { bareHubSpotCalls, bareWebhookServer } from './bare-exchanges';
import { playbookNamed } from './playbook';

const role = requireEnv('bench child', 'BENCH_ROLE');
if (role !== 'all' && role !== 'web' && role !== 'worker')
  throw new Error(`bench child: BENCH_ROLE must be all, web or worker, got ${role}`);

const playbook = process.env.BENCH_PLAYBOOK ?? 'bench';
if (playbook !== 'bench' && playbook !== 'chaos')
  throw new Error(`bench child: BENCH_PLAYBOOK must be bench or chaos, got ${playbook}`);

// `all` runs as SERVICE_ROLE=all does (its workers in a worker thread unless WORKER_THREAD=false).
const stack = await startChildStack(
  'bench child',
  { http: role !== 'worker', workers: role !== 'web' },
  { playbook: playbookNamed(playbook) },
);
// The bench that started this process is gone (killed, crashed): so is its reason to run.
process.on('disconnect', () => process.exit(1));

// The probes (event-loop delay every 5 ms, the Redis backlog every 10 ms, GC pauses) only for a bench that reads
// them (BENCH_PROBES=1, move.ts): their timers wake the main thread ~200 times a second, CPU a bench of the
// service's own cost (cost.ts) would count as the service's.
const probes = process.env.BENCH_PROBES === '1';
const loop = monitorEventLoopDelay({ resolution: 5 });
if (probes) loop.enable();
// Garbage-collection pauses of this process's main thread, since the last `loop` question: a stall the loop
// figures show may be the collector's rather than the service's code.
let gcMaxMs = 0;
let gcTotalMs = 0;
if (probes)
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gcMaxMs = Math.max(gcMaxMs, e.duration);
      gcTotalMs += e.duration;
    }
  }).observe({ entryTypes: ['gc'] });
// Commands sent on the service's main Redis connection and not yet answered, sampled every 10 ms: what a
// command sent on that connection now would wait behind (ioredis's queue of commands awaiting replies).
const backlog: number[] = [];
const main = stack.service.redis as unknown as { commandQueue?: { length: number } };
if (probes) setInterval(() => backlog.push(main.commandQueue?.length ?? 0), 10).unref();
// BENCH_CPU_PROF=<dir>: the parent can profile one measured window (prof-start, then prof-stop with a name), so a
// profile holds that window's work and not the set-up's. Sampled every 100 µs: a window's moves are short.
let profiler: Session | undefined;
async function profile(m: { type: string; id: number; name?: string }): Promise<void> {
  const dir = process.env.BENCH_CPU_PROF;
  if (dir && m.type === 'prof-start') {
    profiler = new Session();
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.setSamplingInterval', { interval: 100 });
    await profiler.post('Profiler.start');
  }
  if (dir && m.type === 'prof-stop' && profiler) {
    const { profile } = await profiler.post('Profiler.stop');
    profiler.disconnect();
    profiler = undefined;
    await writeFile(join(dir, `${m.name ?? 'window'}-${process.pid}.cpuprofile`), JSON.stringify(profile));
  }
  process.send!({ id: m.id });
}
// The parent asks; answers carry this process's own figures only.
process.on(
  'message',
  (m: { type: string; id: number; name?: string; n?: number; dealId?: string; gapMs?: number }) => {
    if (m.type === 'prof-start' || m.type === 'prof-stop') void profile(m);
    // The floor of a steady move (bare-exchanges.ts), in this process beside the idle service.
    if (m.type === 'floor-server')
      void bareWebhookServer(requireEnv('bench child', 'SANDBOX_SECRET')).then((url) =>
        process.send!({ id: m.id, url }),
      );
    if (m.type === 'floor-calls')
      void bareHubSpotCalls(
        {
          url: requireEnv('bench child', 'SANDBOX_URL'),
          portalId: requireEnv('bench child', 'SANDBOX_PORTAL_ID'),
          token: requireEnv('bench child', 'SANDBOX_TOKEN'),
        },
        m.dealId!,
        m.n!,
        m.gapMs ?? 0,
      ).then((r) => process.send!({ id: m.id, ...r }));
    if (m.type === 'cpu') process.send!({ id: m.id, cpu: process.cpuUsage() });
    if (m.type === 'backlog') {
      const sorted = backlog.splice(0).sort((a, b) => a - b);
      process.send!({
        id: m.id,
        max: sorted.at(-1) ?? 0,
        p99: sorted[Math.max(0, Math.ceil(sorted.length * 0.99) - 1)] ?? 0,
        p50: sorted[Math.max(0, Math.ceil(sorted.length * 0.5) - 1)] ?? 0,
      });
    }
    if (m.type === 'loop') {
      process.send!({
        id: m.id,
        loopMaxMs: loop.max / 1e6,
        loopP99Ms: loop.percentile(99) / 1e6,
        gcMaxMs,
        gcTotalMs,
      });
      loop.reset();
      gcMaxMs = 0;
      gcTotalMs = 0;
    }
    // The service's own counters (metrics.ts) of timer firings that warned, breached or escalated: a bench checks
    // that none ran while it measured something else.
    if (m.type === 'timers')
      void stack.metricsJson().then((all) => {
        const value = (name: string) => all.find((x) => x.name === name)?.values[0]?.value ?? 0;
        process.send!({
          id: m.id,
          warnings: value('stagekeeper_sla_warnings_total'),
          breaches: value('stagekeeper_sla_breaches_total'),
          escalations: value('stagekeeper_sla_escalations_total'),
        });
      });
    // Its counts of worker jobs run and of deal-state conflicts (each a decision run again): the scale bench compares
    // them per deal between one worker process and two.
    if (m.type === 'work')
      void stack.metricsJson().then((all) => {
        const values = (name: string) => all.find((x) => x.name === name)?.values ?? [];
        const sum = (vs: { value: number }[]) => vs.reduce((total, v) => total + v.value, 0);
        process.send!({
          id: m.id,
          jobs: sum(
            values('stagekeeper_job_duration_seconds').filter((v) =>
              (v as { metricName?: string }).metricName?.endsWith('_count'),
            ),
          ),
          conflicts: sum(values('stagekeeper_state_conflicts_total')),
        });
      });
  },
);
process.stdout.write(
  `${JSON.stringify({ benchReady: { role, pid: process.pid, url: stack.service.url ?? null } })}\n`,
);
