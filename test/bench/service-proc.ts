/**
 * Stagekeeper as a separate process (service-child.ts) for the benchmarks, and what a bench does to it from the
 * outside: point the sandbox's webhooks at it, read its card API signed as hubspot.fetch signs, ask it for its
 * CPU time and event-loop stalls. Nothing here reaches into the service's modules beyond its public entry points.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { WORKER_NODE_FLAGS } from '@stagekeeper/sync-service/heap';
import { dealSubscriptions } from '@stagekeeper/sync-service/stack';
import type { Sandbox } from '@stagekeeper/sync-service/sandbox-mode';
import { playbookNamed, type BenchPlaybookName } from './playbook';

const CHILD = fileURLToPath(new URL('./service-child.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../..', import.meta.url));

export type ServiceProc = {
  role: string;
  pid: number;
  url: string | null;
  /** User + system CPU of the service process so far, ms. */
  cpuMs(): Promise<number>;
  /** The kernel's part of cpuMs (system time: socket writes and reads, among them loopback delivery). */
  systemCpuMs(): Promise<number>;
  /** Worst and p99 event-loop delay, and GC pauses (worst, and their sum), of the main thread since the last call, ms. */
  loop(): Promise<LoopFigures>;
  /** Commands awaiting replies on the service's main Redis connection since the last call (10 ms samples). */
  redisBacklog(): Promise<{ max: number; p99: number; p50: number }>;
  /** SLA timer firings that warned, breached or escalated in this process so far (its metrics counters). */
  timerFirings(): Promise<TimerFirings>;
  /** Worker jobs run and deal-state conflicts in this process so far (its metrics counters). */
  work(): Promise<{ jobs: number; conflicts: number }>;
  /** A bare signed-webhook server in the service's process (bare-exchanges.ts); its URL. */
  floorServer(): Promise<string>;
  /**
   * `n` bare HubSpot calls made from the service's process (bare-exchanges.ts), one every `gapMs` at most (0:
   * back to back): their CPU and wall time, ms.
   */
  floorCalls(n: number, dealId: string, gapMs?: number): Promise<{ cpuMs: number; ms: number }>;
  /** With BENCH_CPU_PROF set: profile from now until profileStop, written as <name>-<pid>.cpuprofile there. */
  profileStart(): Promise<void>;
  profileStop(name: string): Promise<void>;
  stop(): Promise<void>;
};

const unprobed = (what: string) =>
  new Error(`${what}() reads the bench probes: start the service with startServiceProc({ probes: true })`);

export type TimerFirings = { warnings: number; breaches: number; escalations: number };
export const firingsTotal = (f: TimerFirings) => f.warnings + f.breaches + f.escalations;

export async function startServiceProc(opts: {
  sandbox: Sandbox;
  prefix: string;
  redisUrl: string;
  role?: 'all' | 'web' | 'worker';
  ratePer10s: number;
  debounceMs?: number;
  /** The playbook the service plays (test/bench/playbook.ts): bench unless told. */
  playbook?: BenchPlaybookName;
  env?: Record<string, string>;
  /** The event-loop, GC and Redis-backlog probes (loop(), redisBacklog()): off unless asked, they cost CPU. */
  probes?: boolean;
}): Promise<ServiceProc> {
  const role = opts.role ?? 'all';
  // BENCH_CPU_PROF=<dir>: each service child writes a V8 CPU profile there when it stops (NODE_OPTIONS refuses
  // --cpu-prof, and a profile of the bench process would be the sandbox's and the load generator's); a bench may
  // also profile one window (profileStart/profileStop). BENCH_CPU_PROF_WHOLE=0 leaves out the whole-life profile.
  const prof =
    process.env.BENCH_CPU_PROF && process.env.BENCH_CPU_PROF_WHOLE !== '0'
      ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`]
      : [];
  // Node's flags as `npm run start:prod` gives the service (the workers' young generation, heap.ts).
  const args = [...WORKER_NODE_FLAGS, ...prof, '--import', 'tsx', CHILD];
  const proc: ChildProcess = spawn(process.execPath, args, {
    cwd: REPO,
    env: {
      ...process.env,
      BENCH_ROLE: role,
      BENCH_PLAYBOOK: opts.playbook ?? 'bench',
      REDIS_URL: opts.redisUrl,
      KEY_PREFIX: opts.prefix,
      LOG_LEVEL: 'silent',
      RATE_LIMIT_PER_10S: String(opts.ratePer10s),
      RECONCILE_DEBOUNCE_MS: String(opts.debounceMs ?? 250),
      SWEEP_INTERVAL_MS: '3600000',
      SANDBOX_URL: opts.sandbox.server.url,
      SANDBOX_PORTAL_ID: opts.sandbox.portalId,
      SANDBOX_TOKEN: opts.sandbox.token,
      SANDBOX_SECRET: opts.sandbox.secret,
      BENCH_PROBES: opts.probes ? '1' : '0',
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  const ready = await new Promise<{ url: string | null }>((resolve, reject) => {
    const lines = createInterface({ input: proc.stdout! });
    lines.on('line', (line) => {
      if (line.startsWith('{"benchReady"'))
        resolve((JSON.parse(line) as { benchReady: { url: string | null } }).benchReady);
    });
    proc.once('exit', (code) =>
      reject(new Error(`bench service (${role}) exited with ${code} before ready`)),
    );
  });
  let next = 0;
  const ask = <T>(type: string, extra: Record<string, unknown> = {}) =>
    new Promise<T>((resolve) => {
      const id = next++;
      const onMessage = (m: { id: number } & T) => {
        if (m.id !== id) return;
        proc.off('message', onMessage);
        resolve(m);
      };
      proc.on('message', onMessage);
      proc.send({ type, id, ...extra });
    });
  return {
    role,
    pid: proc.pid!,
    url: ready.url,
    cpuMs: async () => {
      const { cpu } = await ask<{ cpu: NodeJS.CpuUsage }>('cpu');
      return (cpu.user + cpu.system) / 1000;
    },
    systemCpuMs: async () => (await ask<{ cpu: NodeJS.CpuUsage }>('cpu')).cpu.system / 1000,
    loop: () => (opts.probes ? ask<LoopFigures>('loop') : Promise.reject(unprobed('loop'))),
    redisBacklog: async () => {
      if (!opts.probes) throw unprobed('redisBacklog');
      const { max, p99, p50 } = await ask<{ max: number; p99: number; p50: number }>('backlog');
      return { max, p99, p50 };
    },
    timerFirings: async () => {
      const { warnings, breaches, escalations } = await ask<TimerFirings>('timers');
      return { warnings, breaches, escalations };
    },
    work: async () => {
      const { jobs, conflicts } = await ask<{ jobs: number; conflicts: number }>('work');
      return { jobs, conflicts };
    },
    floorServer: async () => (await ask<{ url: string }>('floor-server')).url,
    floorCalls: async (n, dealId, gapMs = 0) => {
      const { cpuMs, ms } = await ask<{ cpuMs: number; ms: number }>('floor-calls', { n, dealId, gapMs });
      return { cpuMs, ms };
    },
    profileStart: async () => {
      await ask('prof-start');
    },
    profileStop: async (name) => {
      await ask('prof-stop', { name });
    },
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        const kill = setTimeout(() => proc.kill('SIGKILL'), 15_000);
        proc.once('exit', () => {
          clearTimeout(kill);
          resolve();
        });
        proc.kill('SIGTERM');
      }),
  };
}

export type LoopFigures = { loopMaxMs: number; loopP99Ms: number; gcMaxMs: number; gcTotalMs: number };
/** What provisioning in HubSpot does: the portal's deal webhooks go to the service's public endpoint. */
export function pointWebhooksAt(
  sandbox: Sandbox,
  serviceUrl: string,
  playbook: BenchPlaybookName = 'bench',
): void {
  sandbox.portal.webhooks.configure({
    targetUrl: `${serviceUrl}/webhooks/hubspot`,
    subscriptions: dealSubscriptions(playbookNamed(playbook)),
    batchWindowMs: 1,
  });
}

// Moved to its own file so the card reader process (card-reader-child.ts) need not load the service's modules.
export { signedGet } from './signed-get';
