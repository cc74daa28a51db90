import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { startSandbox, type Sandbox } from '@stagekeeper/sync-service/sandbox-mode';
import { dealSubscriptions, startStack } from '@stagekeeper/sync-service/stack';
import { loadConfig } from '@stagekeeper/sync-service/config';
import { createLogger } from '@stagekeeper/sync-service/log';
import { QUEUE_NAMES } from '@stagekeeper/sync-service/queue/job-ids';
import { isLease, TimerQueue } from '@stagekeeper/sync-service/queue/timers';
import { ReconcileQueue } from '@stagekeeper/sync-service/queue/reconcile';
import { redisKeys } from '@stagekeeper/sync-service/state/keys';
import { scaledClock } from '@stagekeeper/sync-service/demo/clock';
import { P } from '@stagekeeper/shared';
import { prng } from '../sandbox/prng';
import type { EngineBug } from './engine-bug';
import { CHAOS_OWNERS, CHAOS_PIPELINE, CHAOS_READY, CHAOS_STAGES, chaosPlaybook } from './playbook';
import { OwnRedis } from './redis-server';
import { dealTimeline } from './timeline';
import { countByKind, verifyDeals, type Discrepancy, type DiscrepancyKind } from './verify';

export type ChaosOptions = {
  deals: number;
  /** Stage moves after the deals are created (creations are not counted). */
  transitions: number;
  movesPerSecond: number;
  seed: number;
  webhook: { duplicateRate: number; dropRate: number; reorder: boolean };
  api: { http5xxRate: number; lostResponseRate: number };
  /** Fraction of the moves after which each disruption starts. */
  /**
   * Omitting `workerKill` skips the SIGKILL: a job killed mid-flight is only retried once BullMQ's 30 s lock has
   * expired and a stalled-job check has run (30-60 s), longer than the reduced run may take.
   */
  /** `redisWipe` (any value): after the workload settles, restart Redis without its data and check recovery. */
  at: { storm5xx: number; storm429: number; redisRestart: number; workerKill?: number; redisWipe?: number };
  /**
   * Share of the workload's steps that, instead of a stage move, change the owner, set the gate's property,
   * delete a deal, merge two or restore a deleted one (the rest are moves).
   */
  ops?: { ownerChange: number; ready: number; delete: number; merge: number; restore: number };
  /** How many times faster than real time the run's clock goes (the SLA targets are minutes). */
  speed?: number;
  /** Inject a fault into the engine of every service process (proves the verifier catches it). */
  engineBug?: EngineBug;
  storm5xx: { rate: number; ms: number };
  storm429: { ms: number };
  redisDownMs: number;
  /** Hard bound on the whole run; the run fails rather than waits longer. */
  budgetMs: number;
  /** Burst limit for both the sandbox and the service: the chaos run tests correctness, not the limit. */
  rateLimitPer10s: number;
  print?: (line: string) => void;
};

export type ChaosReport = {
  options: Omit<ChaosOptions, 'print'>;
  deals: number;
  transitions: number;
  faults: Record<string, number>;
  /** Discrepancies after the traffic settled but before the recovery sweep (expected: only deals with a dropped event). */
  beforeSweep: {
    total: number;
    unexplained: number;
    byKind: Record<DiscrepancyKind, number>;
    /** The unexplained ones: a failing run names its deals. */
    examples: Discrepancy[];
  };
  discrepancies: { total: number; byKind: Record<DiscrepancyKind, number>; examples: Discrepancy[] };
  /** Findings of known, filed gaps (see Discrepancy.knownGap): reported, not failed on. */
  knownGaps: Discrepancy[];
  /** What HubSpot saw of the first few deals with a failing finding (timeline.ts). */
  timelines: Record<string, string[]>;
  reconcileJobsFailed: number;
  ingestJobsFailed: number;
  /** What the run made happen; a run where any of these is 0 proves nothing about it. */
  exercised: Exercised;
  timings: Record<string, number>;
  logs: string[];
};

export const EXERCISED_KEYS = [
  'timersFired',
  'warnings',
  'breaches',
  'escalations',
  'gateBlocks',
  'ownerChanges',
  'deletes',
  'merges',
  'restores',
  'redisDataLoss',
] as const;
export type Exercised = Record<(typeof EXERCISED_KEYS)[number], number>;

/** The one line the report prints; `missing` names what a run did not exercise. */
export function exercisedLine(e: Exercised): string {
  return `exercised: ${EXERCISED_KEYS.map((k) => `${k}=${e[k]}`).join(', ')}`;
}
export const notExercised = (e: Exercised) => EXERCISED_KEYS.filter((k) => !(e[k] > 0));

const CHILD = fileURLToPath(new URL('./child.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Child = {
  role: string;
  proc: ChildProcess;
  ready: Promise<{ url: string }>;
  expectedExit: boolean;
  log: string;
};

/** Runs the whole chaos scenario and tears everything down, whatever happens. */
export async function runChaos(opts: ChaosOptions): Promise<ChaosReport> {
  const print = opts.print ?? (() => undefined);
  const t0 = Date.now();
  const deadline = t0 + opts.budgetMs;
  const timings: Record<string, number> = {};
  const mark = (name: string) => (timings[name] = Date.now() - t0);
  const prefix = `skchaos-${randomBytes(4).toString('hex')}`;
  const playbook = chaosPlaybook();
  const random = prng(opts.seed);
  // One fast clock for the sandbox, every service process and the verifier: SLA minutes pass in seconds.
  const clock = scaledClock(opts.speed ?? 60);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;

  const redisServer = await OwnRedis.start();
  const redis = new Redis(redisServer.url, { maxRetriesPerRequest: null });
  redis.on('error', () => undefined); // the restart is deliberate; commands wait for the reconnect
  let sandbox: Sandbox | undefined;
  const children: Child[] = [];
  const unexpectedExits: string[] = [];
  const logs: string[] = [];

  const spawnChild = (role: 'web' | 'worker', name: string): Child => {
    const log = join(tmpdir(), `${prefix}-${name}.log`);
    logs.push(log);
    const out = createWriteStream(log, { flags: 'a' });
    const proc = spawn(process.execPath, ['--import', 'tsx', CHILD], {
      cwd: REPO,
      env: {
        ...process.env,
        CHAOS_ROLE: role,
        REDIS_URL: redisServer.url,
        KEY_PREFIX: prefix,
        SANDBOX_URL: sandbox!.server.url,
        SANDBOX_PORTAL_ID: sandbox!.portalId,
        SANDBOX_TOKEN: sandbox!.token,
        SANDBOX_SECRET: sandbox!.secret,
        RATE_LIMIT_PER_10S: String(opts.rateLimitPer10s),
        CHAOS_CLOCK_ORIGIN: String(clock.origin),
        CHAOS_SPEED: String(clock.speed),
        ...(opts.engineBug ? { CHAOS_ENGINE_BUG: opts.engineBug } : {}),
        RECONCILE_DEBOUNCE_MS: '50',
        SWEEP_INTERVAL_MS: String(24 * 3600_000),
        // CHAOS_LOG_LEVEL=debug: each deal's decisions (rules, commands) in the process logs, to read a finding.
        LOG_LEVEL: process.env.CHAOS_LOG_LEVEL ?? 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const child: Child = { role: name, proc, expectedExit: false, log, ready: undefined as never };
    child.ready = new Promise((resolve, reject) => {
      let buf = '';
      proc.stdout!.on('data', (d: Buffer) => {
        out.write(d);
        buf += d.toString();
        for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line.startsWith('{"chaosReady"')) resolve(JSON.parse(line).chaosReady);
        }
      });
      proc.stderr!.on('data', (d: Buffer) => out.write(d));
      proc.once('exit', (code, signal) => {
        out.end();
        if (!child.expectedExit) unexpectedExits.push(`${name} exited (${code ?? signal})`);
        reject(new Error(`${name} exited before it was ready (${code ?? signal}); see ${log}`));
      });
    });
    child.ready.catch(() => undefined);
    children.push(child);
    return child;
  };

  const stopChild = async (c: Child, signal: NodeJS.Signals) => {
    c.expectedExit = true;
    if (c.proc.exitCode !== null || c.proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => c.proc.once('exit', () => r()));
    c.proc.kill(signal);
    const timer = setTimeout(() => c.proc.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  };

  const keys = redisKeys(prefix);
  const ingestQueue = new Queue(QUEUE_NAMES.ingest, { connection: redis, prefix: keys.bullPrefix() });
  // Read only: the reconcile due set's counts, leases and give-ups (the children enqueue and run).
  const reconcileQueue = new ReconcileQueue(redis, keys, 0);
  const sweepQueue = new Queue(QUEUE_NAMES.sweep, { connection: redis, prefix: keys.bullPrefix() });
  const timerIndex = new TimerQueue(redis, keys);
  const faults: Record<string, number> = {};
  const done = { ownerChanges: 0, deletes: 0, merges: 0, restores: 0, timersFired: 0, redisDataLoss: 0 };
  // The children's timer pollers fire timers on the fast clock by themselves. What this run counts is how many
  // fired, from outside: the due index read a few times a second, a timer counted once it was seen claimed (its
  // score a lease, ending in .5) or seen gone or moved after it fell due. (One fired and re-armed entirely between
  // two reads is missed: the count shows that timers fired, it is not an exact tally.)
  let watching = true;
  const watch = (async () => {
    const fired = new Set<string>();
    let last = new Map<string, number>();
    while (watching) {
      try {
        const flat = await redis.zrange(keys.timersDue(), 0, -1, 'WITHSCORES');
        const now = clock.now();
        const seen = new Map<string, number>();
        for (let i = 0; i < flat.length; i += 2) seen.set(flat[i]!, Number(flat[i + 1]));
        for (const [member, score] of seen) {
          const before = last.get(member);
          if (isLease(score) && (before === undefined || !isLease(before)))
            fired.add(`${member}@${before ?? score}`);
        }
        for (const [member, score] of last)
          if (!isLease(score) && score <= now && seen.get(member) !== score) fired.add(`${member}@${score}`);
        last = seen;
        done.timersFired = fired.size;
      } catch {
        // Redis restarting: the next read catches up.
      }
      await sleep(200);
    }
  })();
  const timersLeft = async () => {
    const c = await timerIndex.counts(clock.now());
    return { due: c.waiting, later: c.delayed };
  };

  try {
    sandbox = await startSandbox({ playbook, now: clock.now });
    const portal = sandbox.portal;
    portal.setRateLimit({ max: opts.rateLimitPer10s, windowMs: 10_000 });
    // HubSpot retries a failed delivery up to 10 times over hours; scaled to cover a Redis outage of seconds.
    portal.webhooks.configure({
      batchWindowMs: 20,
      retryDelayMs: (n) => 300 * n,
      maxRetries: 10,
      timeoutMs: 5_000,
    });

    // Provisioning (properties, playbook) once, in this process: the three children then find everything in place
    // and start in parallel instead of racing to create the same properties.
    const provisioner = await startStack({
      config: loadConfig({
        SANDBOX: 'true',
        REDIS_URL: redisServer.url,
        KEY_PREFIX: prefix,
        LOG_LEVEL: 'silent',
        RATE_LIMIT_PER_10S: String(opts.rateLimitPer10s),
      }),
      playbook,
      sandbox,
      clock: clock.now,
      http: false,
      workers: false,
      log: createLogger('silent'),
    });
    await provisioner.close();
    mark('provisioned');

    const web = spawnChild('web', 'web');
    let workers = [spawnChild('worker', 'worker-1'), spawnChild('worker', 'worker-2')];
    const { url } = await web.ready;
    portal.webhooks.configure({
      targetUrl: `${url}/webhooks/hubspot`,
      subscriptions: dealSubscriptions(playbook),
    });
    await Promise.all(workers.map((w) => w.ready));
    mark('processesReady');
    print(
      `chaos: web + 2 workers up on ${redisServer.url} (prefix ${prefix}) in ${timings.processesReady} ms`,
    );

    portal.setFaults({ ...opts.webhook, ...opts.api, latencyMs: 0, seed: opts.seed });
    const dealIds: string[] = [];
    for (let i = 0; i < opts.deals; i++) {
      const owner = CHAOS_OWNERS[i % CHAOS_OWNERS.length]!;
      dealIds.push(
        portal.ui.createDeal(
          {
            dealname: `Chaos ${i}`,
            pipeline: CHAOS_PIPELINE,
            dealstage: CHAOS_STAGES[0],
            hubspot_owner_id: owner,
          },
          { userId: Number(owner) },
        ).id,
      );
      if (i % 20 === 19) await sleep(50);
    }
    mark('dealsCreated');

    // Disruptions run beside the moves, each at its point of the workload.
    const disruptions: Promise<void>[] = [];
    const fired = new Set<string>();
    const due = (name: keyof ChaosOptions['at'], i: number) =>
      opts.at[name] !== undefined &&
      !fired.has(name) &&
      i >= Math.floor(opts.at[name]! * opts.transitions) &&
      (fired.add(name), true);
    faults.workerKillActiveJobs = 0;

    const gapMs = 1000 / opts.movesPerSecond;
    const movesStart = Date.now();
    for (let i = 0; i < opts.transitions; i++) {
      if (Date.now() > deadline)
        throw new Error(`chaos budget exhausted during the moves (${i}/${opts.transitions})`);
      if (due('storm5xx', i))
        disruptions.push(
          (async () => {
            portal.setFaults({ http5xxRate: opts.storm5xx.rate });
            print(`chaos: 5xx storm (${opts.storm5xx.rate * 100}% for ${opts.storm5xx.ms} ms) at move ${i}`);
            await sleep(opts.storm5xx.ms);
            portal.setFaults({ http5xxRate: opts.api.http5xxRate });
          })(),
        );
      if (due('storm429', i))
        disruptions.push(
          (async () => {
            portal.setRateLimit({ max: 1 });
            // Another deployment of the same app spends the window as it frees. Without it the service, which
            // follows HubSpot's rate-limit headers, can pace itself to one call a window and never be refused:
            // on HubSpot too a 429 comes from a spender the service cannot see.
            const other = portal.tokens.authenticate(`Bearer ${sandbox!.token}`);
            const spender = setInterval(() => portal.limits.takeBurst(other), 10);
            print(
              `chaos: 429 storm (sandbox limit 1 per 10 s, spent elsewhere, for ${opts.storm429.ms} ms) at move ${i}`,
            );
            try {
              await sleep(opts.storm429.ms);
              // The storm ends only once HubSpot has refused a call (bounded): a storm nothing ran into
              // exercises nothing.
              const refused = () => portal.requests.some((r) => r.status === 429);
              for (let waited = 0; !refused() && waited < 30_000; waited += 100) await sleep(100);
            } finally {
              clearInterval(spender);
              portal.setRateLimit({ max: opts.rateLimitPer10s });
            }
          })(),
        );
      if (due('redisRestart', i))
        disruptions.push(
          (async () => {
            print(`chaos: redis restart (down ${opts.redisDownMs} ms) at move ${i}`);
            await redisServer.restart(opts.redisDownMs);
          })(),
        );
      if (due('workerKill', i))
        disruptions.push(
          (async () => {
            // Wait (bounded) for work in flight so the kill lands mid-job.
            for (let k = 0; k < 100; k++) {
              const active = (await reconcileQueue.list()).filter((r) => r.leased).length;
              if (active > 0) {
                faults.workerKillActiveJobs = active;
                break;
              }
              await sleep(20);
            }
            const victim = workers[0]!;
            await stopChild(victim, 'SIGKILL');
            print(
              `chaos: SIGKILL worker-1 with ${faults.workerKillActiveJobs} reconcile run(s) leased across workers at move ${i}`,
            );
            await sleep(500);
            const again = spawnChild('worker', 'worker-1b');
            workers = [again, workers[1]!];
            await again.ready;
          })(),
        );
      const live = dealIds.filter((d) => isLive(portal, d));
      const id = pick(live);
      const actor = { userId: Number(CHAOS_OWNERS[0]) };
      const ops = opts.ops ?? { ownerChange: 0, ready: 0, delete: 0, merge: 0, restore: 0 };
      const deleted = dealIds.filter((d) => portal.objects.find('deals', d, true)?.id === d);
      const r = random();
      if (r < ops.ownerChange) {
        const owner = portal.objects.get('deals', id).props.get('hubspot_owner_id');
        portal.ui.setOwner(
          id,
          CHAOS_OWNERS.find((o) => o !== owner)!,
          actor,
        );
        done.ownerChanges++;
      } else if (r < ops.ownerChange + ops.ready) {
        portal.ui.setProperty(
          id,
          CHAOS_READY,
          portal.objects.get('deals', id).props.get(CHAOS_READY) ? null : 'yes',
          actor,
        );
      } else if (r < ops.ownerChange + ops.ready + ops.delete && live.length > 4) {
        portal.ui.deleteDeal(id, actor);
        done.deletes++;
      } else if (r < ops.ownerChange + ops.ready + ops.delete + ops.merge && live.length > 4) {
        const other = pick(live.filter((d) => d !== id));
        portal.ui.mergeDeals(id, other, actor);
        done.merges++;
      } else if (
        r < ops.ownerChange + ops.ready + ops.delete + ops.merge + ops.restore &&
        deleted.length > 0
      ) {
        portal.ui.restoreDeal(pick(deleted), actor);
        done.restores++;
      } else {
        const current = portal.objects.get('deals', id).props.get('dealstage');
        portal.ui.moveDeal(id, pick(CHAOS_STAGES.filter((st) => st !== current)), actor);
      }
      const lag = movesStart + (i + 1) * gapMs - Date.now();
      if (lag > 0) await sleep(lag);
    }
    await Promise.all(disruptions);
    mark('movesDone');
    portal.setFaults({ duplicateRate: 0, dropRate: 0, reorder: false, http5xxRate: 0, lostResponseRate: 0 });

    const quiet = async (what: string) => {
      let calm = 0;
      let shown = Date.now();
      while (calm < 4) {
        await Promise.race([portal.webhooks.drain(), sleep(1_000)]);
        // An accepted webhook is an ingest job until a worker fans it out into reconcile requests: both must be
        // empty (the due set: no request waiting, retrying or running).
        const states = ['waiting', 'active', 'delayed', 'prioritized', 'paused', 'waiting-children'] as const;
        const [ingest, reconcile] = await Promise.all([
          ingestQueue.getJobCounts(...states),
          reconcileQueue.counts(),
        ]);
        const c = { ingest, reconcile };
        if (Date.now() > deadline)
          throw new Error(`chaos budget exhausted waiting for ${what}: ${JSON.stringify(c)}`);
        if (Date.now() - shown > 5_000) {
          shown = Date.now();
          print(`chaos: waiting for ${what}: ${JSON.stringify(c)}`);
        }
        calm = [ingest, reconcile].every((counts) => Object.values(counts).every((n) => n === 0))
          ? calm + 1
          : 0;
        await sleep(150);
      }
    };

    // The missed-webhook sweep, triggered instead of waiting for its schedule; retried if a fault fails it.
    // `andWait`: until the reconciles it queued are done.
    const sweep = async (andWait = true) => {
      for (let attempt = 0; ; attempt++) {
        const job = await sweepQueue.add(
          'sweep',
          {},
          { removeOnComplete: true, removeOnFail: false, attempts: 1 },
        );
        let state = await job.getState();
        while (state !== 'unknown' && state !== 'failed' && state !== 'completed') {
          if (Date.now() > deadline) throw new Error('chaos budget exhausted waiting for the sweep');
          await sleep(100);
          state = await job.getState();
        }
        if (state !== 'failed') break;
        if (attempt >= 3) throw new Error('the sweep kept failing');
      }
      if (andWait) await quiet('the sweep reconciles');
    };
    // Every webhook the workload lost is lost by now: one sweep recovers them before the checks made ahead of the
    // data loss (a merge whose webhook was lost is seen only through its survivor). Its reconciles drain with the
    // rest, while the SLA timers run out.
    if (opts.at.redisWipe !== undefined) await sweep(false);

    await quiet('the queues to drain');
    // Every visit now sits: its warning, breach and escalation fall due within the longest window (7 min at 150 %
    // on the fast clock). Waiting until no timer is left makes the end state final, so rules can be checked on it.
    for (let shown = Date.now(); ;) {
      const t = await timersLeft();
      if (Object.values(t).every((n) => n === 0)) break;
      if (Date.now() > deadline)
        throw new Error(`chaos budget exhausted waiting for the SLA timers: ${JSON.stringify(t)}`);
      if (Date.now() - shown > 5_000) {
        shown = Date.now();
        print(`chaos: waiting for the SLA timers: ${JSON.stringify(t)}`);
      }
      await sleep(150);
    }
    await quiet('the timer decisions to be applied');
    mark('settled');

    // Redis restarts WITHOUT its data, at a quiet moment (what is queued when a volatile Redis dies is lost by
    // definition: that is why production refuses one). Recovery: every service process notices the missing seed
    // marker and re-seeds (playbook, install, sweep schedule), a full sweep re-reads every deal, each adopts its
    // tasks by their markers and gets its state and timers back; the verification below checks the result.
    // Checked before the data loss too: what the loss takes away (the service's record of deals deleted or merged
    // before it) cannot be checked after it, nor what the full sweep after it rewrites for every deal (the gate's
    // properties a merge filled on its survivor). Like every other check, after a sweep (see above).
    const lostBeforeWipe = new Set<string>([
      ...portal.webhooks.dropped.map((e) => String(e.objectId)),
      ...portal.webhooks.failed.flat().map((e) => String(e.objectId)),
    ]);
    const preWipeChecked =
      opts.at.redisWipe === undefined
        ? []
        : (
            await verifyDeals({
              portal,
              playbook,
              redis,
              prefix,
              dealIds,
              firstStage: CHAOS_STAGES[0],
              now: clock.now,
              lostEvents: lostBeforeWipe,
            })
          ).filter((d) => d.kind === 'gone' || d.kind === 'gate');
    const preWipe = preWipeChecked.filter((d) => !d.knownGap);
    // Some known gaps are told apart by the service's own records (a task map's pending create: "its create
    // answer was lost"), which the data loss takes too: the same open task found after it is the same gap.
    const gapBeforeWipe = new Set(
      preWipeChecked.filter((d) => d.knownGap).map((d) => `${d.dealId} ${d.taskKey}`),
    );
    const asBeforeWipe = (list: Discrepancy[]): Discrepancy[] =>
      list.map((d) =>
        d.kind === 'gone' && !d.knownGap && d.taskKey && gapBeforeWipe.has(`${d.dealId} ${d.taskKey}`)
          ? { ...d, knownGap: true, detail: `${d.detail} (a known gap before the data loss)` }
          : d,
      );
    const goneBeforeWipe = new Set(dealIds.filter((d) => !isLive(portal, d)));
    if (opts.at.redisWipe !== undefined) {
      await redisServer.restart(opts.redisDownMs, { wipe: true });
      print(`chaos: redis restarted WITHOUT its data (down ${opts.redisDownMs} ms)`);
      const until = Date.now() + 30_000;
      while (!(await redis.exists(keys.seeded()).catch(() => 0))) {
        if (Date.now() > until)
          throw new Error('the service did not re-seed Redis within 30 s of losing its data');
        await sleep(100);
      }
      done.redisDataLoss++;
      // The re-seed queued its full sweep before writing the marker: wait for it to run, then for its reconciles.
      for (;;) {
        const c = await sweepQueue.getJobCounts('waiting', 'active', 'prioritized'); // delayed: the schedule's next run
        if (Object.values(c).every((n) => n === 0)) break;
        if (Date.now() > deadline)
          throw new Error('chaos budget exhausted waiting for the full sweep after the data loss');
        await sleep(100);
      }
      await quiet('the re-seeded full sweep');
      for (;;) {
        const t = await timersLeft();
        if (Object.values(t).every((n) => n === 0)) break;
        if (Date.now() > deadline)
          throw new Error(`chaos budget exhausted waiting for the rebuilt timers: ${JSON.stringify(t)}`);
        await sleep(150);
      }
      await quiet("the rebuilt timers' decisions");
      mark('recoveredFromDataLoss');
    }

    const touched = new Set<string>([
      ...portal.webhooks.dropped.map((e) => String(e.objectId)),
      ...portal.webhooks.failed.flat().map((e) => String(e.objectId)),
    ]);
    const ev = {
      portal,
      playbook,
      redis,
      prefix,
      dealIds,
      firstStage: CHAOS_STAGES[0],
      now: clock.now,
      lostEvents: touched,
    };
    const before = asBeforeWipe(await verifyDeals(ev));
    const unexplained = before.filter((d) => !touched.has(d.dealId) && !d.knownGap);

    await sweep();
    mark('swept');

    const checked = asBeforeWipe(await verifyDeals(ev));
    // Deals gone before the data loss were checked then (preWipe); afterwards their service records are gone too.
    const after = [
      ...preWipe,
      ...checked.filter(
        (d) =>
          !d.knownGap &&
          !(d.kind === 'gone' && goneBeforeWipe.has(d.dealId) && opts.at.redisWipe !== undefined),
      ),
    ];
    mark('verified');

    const requests = portal.requests;
    const deliveries = portal.webhooks.deliveries;
    const firstSends = new Map<number, number>();
    for (const d of deliveries)
      if (d.attemptNumber === 0) for (const e of d.eventIds) firstSends.set(e, (firstSends.get(e) ?? 0) + 1);
    Object.assign(faults, {
      webhookEventsDropped: portal.webhooks.dropped.length,
      webhookEventsDuplicated: [...firstSends.values()].reduce((a, n) => a + n - 1, 0),
      webhookDeliveriesShuffled: deliveries.filter(
        (d) => d.attemptNumber === 0 && d.eventIds.some((e, i) => i > 0 && e < d.eventIds[i - 1]!),
      ).length,
      webhookDeliveriesRejectedOrFailed: deliveries.filter(
        (d) => d.status === undefined || d.status < 200 || d.status >= 300,
      ).length,
      webhookBatchesExhausted: portal.webhooks.failed.length,
      api5xx: requests.filter((r) => r.status >= 500 && r.status !== 504).length,
      apiLostResponses504: requests.filter((r) => r.status === 504).length,
      api429: requests.filter((r) => r.status === 429).length,
      redisRestarts: redisServer.restarts,
      workerKills: opts.at.workerKill === undefined ? 0 : 1,
      unexpectedProcessExits: unexpectedExits.length,
    });
    faults.redisDataLosses = redisServer.dataLosses;
    faults.apiRequests = requests.length;
    faults.webhookDeliveries = deliveries.length;

    return {
      options: { ...opts, print: undefined } as Omit<ChaosOptions, 'print'>,
      deals: dealIds.length,
      transitions: opts.transitions,
      faults,
      beforeSweep: {
        total: before.length,
        unexplained: unexplained.length,
        byKind: countByKind(before),
        examples: unexplained.slice(0, 20),
      },
      discrepancies: { total: after.length, byKind: countByKind(after), examples: after.slice(0, 20) },
      knownGaps: checked.filter((d) => d.knownGap),
      timelines: Object.fromEntries(
        [...new Set([...unexplained, ...after].map((d) => d.dealId))]
          .slice(0, 3)
          .map((id) => [id, dealTimeline(portal, id)]),
      ),
      exercised: exercisedFrom(portal, done),
      reconcileJobsFailed: (await reconcileQueue.getJobCounts()).failed ?? 0,
      ingestJobsFailed: await ingestQueue.getFailedCount(),
      timings,
      logs,
    };
  } finally {
    watching = false;
    await watch;
    await Promise.all(children.map((c) => stopChild(c, 'SIGTERM')));
    await ingestQueue.close().catch(() => undefined);
    await reconcileQueue.close().catch(() => undefined);
    await sweepQueue.close().catch(() => undefined);
    redis.disconnect();
    await sandbox?.close();
    sandbox?.portal.close();
    await redisServer.close();
  }
}

/** Neither deleted nor merged away. */
function isLive(portal: Sandbox['portal'], dealId: string): boolean {
  // find() follows a merge to the survivor: a merged-away id comes back under another id.
  return portal.objects.find('deals', dealId)?.id === dealId;
}

/** Counted from what HubSpot holds (the service's tasks and property writes), not from the service's own word. */
function exercisedFrom(
  portal: Sandbox['portal'],
  done: {
    ownerChanges: number;
    deletes: number;
    merges: number;
    restores: number;
    timersFired: number;
    redisDataLoss: number;
  },
): Exercised {
  const MARKER = /\[stagekeeper:([^\]\s]+)\]/;
  const keys = [...portal.objects.all('tasks'), ...portal.objects.all('tasks', true)].map(
    (t) => MARKER.exec(t.props.get('hs_task_body') ?? '')?.[1] ?? '',
  );
  const ownWrites = (name: string, values: string[]) =>
    portal.changes.filter(
      (c) =>
        c.kind === 'propertyChange' &&
        c.objectType === 'deals' &&
        c.propertyName === name &&
        values.includes(c.propertyValue) &&
        c.source.changeSource !== 'CRM_UI',
    ).length;
  return {
    timersFired: done.timersFired,
    warnings: keys.filter((k) => k.endsWith(':warning')).length,
    breaches: ownWrites(P.slaStatus, ['breached']),
    escalations: keys.filter((k) => k.includes(':level:')).length,
    gateBlocks: ownWrites(P.gateStatus, ['blocked_reverted', 'blocked_remediation']),
    ownerChanges: done.ownerChanges,
    deletes: done.deletes,
    merges: done.merges,
    restores: done.restores,
    redisDataLoss: done.redisDataLoss,
  };
}

export function formatReport(r: ChaosReport): string {
  const lines = [
    `chaos: ${r.transitions} stage moves over ${r.deals} deals (seed ${r.options.seed}), web + 2 workers on one Redis`,
    `  faults injected: ${Object.entries(r.faults)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ')}`,
    `  before the sweep: ${r.beforeSweep.total} discrepancies (${r.beforeSweep.unexplained} on deals without a dropped/undelivered event) ${JSON.stringify(r.beforeSweep.byKind)}`,
    ...r.beforeSweep.examples.map((d) => `    deal ${d.dealId} ${d.kind}: ${d.detail}`),
    `  discrepancies: ${r.discrepancies.total} ${JSON.stringify(r.discrepancies.byKind)}`,
    ...r.discrepancies.examples.map((d) => `    deal ${d.dealId} ${d.kind}: ${d.detail}`),
    `  known gaps (reported, not failed on): ${r.knownGaps.length}`,
    ...r.knownGaps.slice(0, 5).map((d) => `    deal ${d.dealId} ${d.kind}: ${d.detail}`),
    ...Object.entries(r.timelines).flatMap(([id, lines]) => [
      `  what HubSpot saw of deal ${id}:`,
      ...lines.map((l) => `    ${l}`),
    ]),
    `  jobs left failed: reconcile ${r.reconcileJobsFailed}, ingest ${r.ingestJobsFailed}`,
    exercisedLine(r.exercised),
    `  timings (ms from start): ${Object.entries(r.timings)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ')}`,
    `  process logs: ${r.logs.join(' ')}`,
  ];
  return lines.join('\n');
}
