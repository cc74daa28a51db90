/**
 * A bulk stage move as the benchmarks run it: a fresh portal and a private redis-server, N deals made known to a
 * Stagekeeper process (service-child.ts) at a high limit, then the portal's burst limit set to `ratePer10s`, a new
 * service process started with the same limit, and all N deals moved at once (an import), optionally with reps
 * opening deal cards meanwhile. Everything is observed from outside: HubSpot's request log, the card API, the
 * service process's CPU, Redis INFO.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { redisKeys } from '@stagekeeper/sync-service/state/keys';
import { OwnRedis } from '../chaos/redis-server';
import { percentile, sleep } from './common';
import type { BenchPlaybookName } from './playbook';
import { commandCount } from './redis-stats';
import { createDeals, moveOn, opName, quiet, withPortal } from './scene';
import {
  firingsTotal,
  pointWebhooksAt,
  startServiceProc,
  type ServiceProc,
  type TimerFirings,
} from './service-proc';
import { startCardReaderProc, type CardRead, type CardReaderProc, type CardSpell } from './card-readers';

/** Progress on stderr, so a long full run shows where it is. */
const step = (what: string) =>
  process.stderr.write(`  [${new Date().toISOString().slice(11, 19)}] ${what}\n`);

/** The slow log's threshold during the move, µs. */
const SLOW_US = 3_000;
/** Slow-log entries Redis keeps during the move, and the bench reads back (the card bench's table says so). */
export const SLOW_KEPT = 1_000;

/** Slow-log entries grouped by what ran: the command and its first key's family (ids and dates left out). */
export type SlowCommands = {
  thresholdMs: number;
  count: number;
  worstMs: number;
  by: Record<string, [number, number]>;
};

/** `by`: "command key-family" -> [count, worst ms]. Keys only, never arguments: a script's argv may hold values. */
export function slowCommands(entries: [number, number, number, string[]][]): SlowCommands {
  const by: Record<string, [number, number]> = {};
  let worst = 0;
  for (const [, , us, args] of entries) {
    const cmd = (args[0] ?? '?').toLowerCase();
    const scripted = cmd === 'evalsha' || cmd === 'eval';
    const key = scripted ? (Number(args[2]) > 0 ? args[3] : undefined) : args[1];
    // `{prefix}:{portal}:history-log:2026-11-23:2` -> history-log: the prefix, ids, dates and numbers dropped.
    const family = (key ?? '')
      .split(':')
      .slice(1)
      .filter((seg) => seg !== '' && !/^\d/.test(seg))
      .join(':');
    const what = `${cmd} ${family || '-'}`;
    const [n, max] = by[what] ?? [0, 0];
    by[what] = [n + 1, Math.max(max, us / 1000)];
    worst = Math.max(worst, us / 1000);
  }
  return { thresholdMs: SLOW_US / 1000, count: entries.length, worstMs: worst, by };
}

export type CardReads = { readers: number; everyMs: number; idleReads: number };
export type { CardRead };

export type MoveResult = {
  deals: number;
  ratePer10s: number;
  playbook: BenchPlaybookName;
  settled: boolean;
  /**
   * SLA timer firings that warned, breached or escalated from the first move to the end of the quiet wait: each is
   * a decision with its own HubSpot calls, not the move's. 0 unless the playbook's SLAs are shorter than set-up.
   */
  timerFirings: TimerFirings;
  /** The earliest pending timer when the move began, seconds after it (null: none); later than the wall, none could fire. */
  firstTimerDueSeconds: number | null;
  wallMs: number;
  /** From the first move to the end of the moves (the sandbox sends their webhooks meanwhile). */
  movedMs: number;
  /** From the first move to the service's first call to HubSpot: debounce, ingest, the first batch formed. */
  firstCallMs: number;
  calls: number;
  r429: number;
  ops: Record<string, number>;
  serviceCpuMs: number;
  redisCommands: number;
  card?: {
    idle: number[];
    during: number[];
    idleNon200: number;
    during503: number;
    duringOtherNon200: number;
    loopMaxMs: number;
    loopP99Ms: number;
    /** The web process's GC pauses during the move: the worst, and their sum, ms. */
    gcMaxMs: number;
    gcTotalMs: number;
    /** Redis's own latency monitor (events of 5 ms or more) during the move: the worst per event, ms. */
    redisLatency: Record<string, number>;
    /** Redis's slow log over the move: commands of SLOW_US or more, by command and key family (slowCommands). */
    redisSlow: SlowCommands;
    /** Commands awaiting replies on the service's main Redis connection during the move (10 ms samples). */
    redisBacklog: { max: number; p99: number; p50: number };
    /** The card reader process's own event-loop delay (card-readers.ts), idle and during the move. */
    readerLoop: { idleMaxMs: number; idleP99Ms: number; duringMaxMs: number; duringP99Ms: number };
    /** Every read, idle and during the move, for the sources and phase breakdowns. */
    idleReads: CardRead[];
    duringReads: CardRead[];
    /** The same idle reads once the move is over (and the rate window has forgotten it): the baseline's check. */
    idleAfter: number[];
    idleAfterReads: CardRead[];
  };
};

export async function bulkMove(opts: {
  deals: number;
  ratePer10s: number;
  budgetMs: number;
  card?: CardReads;
  /** The bench playbook unless told: its SLAs outlast set-up and move (test/bench/playbook.ts). */
  playbook?: BenchPlaybookName;
  /**
   * `all` (default, as `npm start` runs): one service process. `split`: the measured move runs on a web process
   * (HTTP: webhooks, cards) and a worker process, as the scale bench does; the card sees the web one's loop.
   */
  roles?: 'all' | 'split';
}): Promise<MoveResult> {
  const { deals: n, ratePer10s } = opts;
  const playbook = opts.playbook ?? 'bench';
  const redisServer = await OwnRedis.start({ persist: false });
  const prefix = `skbench-move-${randomBytes(3).toString('hex')}`;
  const info = new Redis(redisServer.url);
  let readerProc: CardReaderProc | undefined;
  try {
    return await withPortal(async (sandbox) => {
      const portal = sandbox.portal;
      // Setup at a high limit: getting N deals known is not what is measured.
      portal.setRateLimit({ max: 10_000, windowMs: 10_000 });
      let svc = await startServiceProc({
        sandbox,
        prefix,
        redisUrl: redisServer.url,
        ratePer10s: 10_000,
        playbook,
      });
      try {
        pointWebhooksAt(sandbox, svc.url!, playbook);
        // Cards are read for deals outside the move, tracked like any other.
        const cardVisits = opts.card ? createDeals(sandbox, 20, n) : new Map<string, string>();
        const created = createDeals(sandbox, n);
        const cardDeals = [...cardVisits.keys()];
        const deals = [...created.keys()];
        step(`setup: ${n} deals made, waiting for the service to track them`);
        if (!(await quiet(sandbox, new Map([...created, ...cardVisits]), Date.now() + 30 * 60_000)))
          throw new Error('setup did not settle');
        step('setup settled; restarting the service at the measured limit');
        await svc.stop();
        portal.setRateLimit({ max: ratePer10s, windowMs: 10_000 });
        // Both sliding windows (portal and service) forget the setup traffic.
        await sleep(10_500);
        const measured = { sandbox, prefix, redisUrl: redisServer.url, ratePer10s, playbook, probes: true };
        svc =
          opts.roles === 'split'
            ? splitService(
                await startServiceProc({ ...measured, role: 'web' }),
                await startServiceProc({ ...measured, role: 'worker' }),
              )
            : await startServiceProc(measured);
        pointWebhooksAt(sandbox, svc.url!, playbook);

        let card: MoveResult['card'];
        let idle: CardSpell | undefined;
        // The reps read from a process of their own: this one plays HubSpot for the whole move.
        if (opts.card) readerProc = await startCardReaderProc();
        const cardCfg = opts.card && {
          url: svc.url!,
          secret: sandbox.secret,
          portalId: sandbox.portalId,
          deals: cardDeals,
          readers: opts.card.readers,
          everyMs: opts.card.everyMs,
        };
        if (readerProc && cardCfg && opts.card) {
          // Baseline in the same run: the same reads, by the same process, with nothing else going on.
          await readerProc.start({ ...cardCfg, readers: 1 });
          await sleep(1_000);
          await readerProc.stop();
          await readerProc.start(cardCfg);
          await readerProc.waitFor(opts.card.idleReads);
          idle = await readerProc.stop();
          await svc.loop();
          await svc.redisBacklog();
          // Redis's latency monitor: whether a card's slow read waited on the server (a long script, a big
          // pipeline) rather than on the service.
          await info.config('SET', 'latency-monitor-threshold', '5');
          await info.call('LATENCY', 'RESET');
          // And its slow log: which commands held it that long (a script's key says which store it was).
          await info.config('SET', 'slowlog-log-slower-than', String(SLOW_US));
          await info.config('SET', 'slowlog-max-len', String(SLOW_KEPT));
          await info.call('SLOWLOG', 'RESET');
          // The idle reads spent some of the rate budget; let the window forget them.
          await sleep(10_500);
        }

        step(`moving ${n} deals at ${ratePer10s} / 10 s`);
        const fired0 = await svc.timerFirings();
        const [, firstDue] = await info.zrange(redisKeys(prefix).timersDue(), 0, 0, 'WITHSCORES');
        const cpu0 = await svc.cpuMs();
        const cmd0 = await commandCount(info);
        const before = portal.requests.length;
        const t0 = Date.now();
        // BENCH_CPU_PROF=<dir>: the move's window profiled in the service (each process's main thread).
        if (process.env.BENCH_CPU_PROF) await svc.profileStart();
        let during: Promise<CardSpell> | undefined;
        if (readerProc && cardCfg) await readerProc.start(cardCfg);
        // Stopped once every SLA task exists (their reads are not the move's), or at the end at the latest.
        const stopReaders = () => (during ??= readerProc ? readerProc.stop() : undefined);
        const visits = new Map<string, string>();
        for (const id of deals) visits.set(id, moveOn(sandbox, id));
        const movedMs = Date.now() - t0;
        const settled = await quiet(sandbox, visits, t0 + opts.budgetMs, 1_000, async () => {
          await stopReaders();
        });
        const spell = await stopReaders();
        if (process.env.BENCH_CPU_PROF) await svc.profileStop(`move-${ratePer10s}`);
        step(
          `move ${settled ? 'settled' : 'did NOT settle'} after ${Math.round((Date.now() - t0) / 1000)} s`,
        );
        const reqs = portal.requests.slice(before);
        // BENCH_TIMELINE=file: every call of the move (ms after the first move, operation, status), to find gaps.
        if (process.env.BENCH_TIMELINE)
          writeFileSync(
            process.env.BENCH_TIMELINE,
            reqs.map((r) => `${r.at - t0} ${opName(r.method, r.path)} ${r.status}`).join('\n'),
          );
        const serviceCpuMs = (await svc.cpuMs()) - cpu0;
        const redisCommands = (await commandCount(info)) - cmd0;
        const fired1 = await svc.timerFirings();
        const timerFirings: TimerFirings = {
          warnings: fired1.warnings - fired0.warnings,
          breaches: fired1.breaches - fired0.breaches,
          escalations: fired1.escalations - fired0.escalations,
        };
        if (firingsTotal(timerFirings) > 0)
          step(
            `${firingsTotal(timerFirings)} SLA timer firings ran during the move: ${JSON.stringify(timerFirings)}`,
          );
        // Wall time ends at the service's last call to HubSpot, not at the end of the quiet wait.
        const lastAt = reqs.length ? reqs[reqs.length - 1]!.at : t0;
        const firstAt = reqs.length ? reqs[0]!.at : t0;
        const ops: Record<string, number> = {};
        for (const r of reqs)
          if (r.status !== 429) ops[opName(r.method, r.path)] = (ops[opName(r.method, r.path)] ?? 0) + 1;
        if (idle && spell && readerProc && cardCfg && opts.card) {
          const loop = await svc.loop();
          const backlog = await svc.redisBacklog();
          const redisSlow = slowCommands(
            (await info.call('SLOWLOG', 'GET', String(SLOW_KEPT))) as [number, number, number, string[]][],
          );
          const latest = (await info.call('LATENCY', 'LATEST')) as [string, number, number, number][];
          const redisLatency = Object.fromEntries(latest.map(([event, , , max]) => [event, max]));
          // The baseline again once the service is idle: the machine's load may have moved meanwhile (other
          // processes, the service's own warm-up), and a ratio against a baseline that moved is not the service's.
          await sleep(10_500);
          await readerProc.start(cardCfg);
          await readerProc.waitFor(opts.card.idleReads);
          const after = await readerProc.stop();
          const statuses = spell.reads.map((r) => r.status);
          card = {
            idle: idle.reads.map((r) => r.ms),
            during: spell.reads.map((r) => r.ms),
            idleNon200: idle.reads.filter((r) => r.status !== 200).length,
            during503: statuses.filter((s) => s === 503).length,
            duringOtherNon200: statuses.filter((s) => s !== 200 && s !== 503).length,
            loopMaxMs: loop.loopMaxMs,
            loopP99Ms: loop.loopP99Ms,
            gcMaxMs: loop.gcMaxMs,
            gcTotalMs: loop.gcTotalMs,
            redisLatency,
            redisSlow,
            redisBacklog: backlog,
            readerLoop: {
              idleMaxMs: idle.loopMaxMs,
              idleP99Ms: idle.loopP99Ms,
              duringMaxMs: spell.loopMaxMs,
              duringP99Ms: spell.loopP99Ms,
            },
            idleReads: idle.reads,
            duringReads: spell.reads,
            idleAfter: after.reads.map((r) => r.ms),
            idleAfterReads: after.reads,
          };
        }
        return {
          deals: n,
          ratePer10s,
          playbook,
          settled,
          timerFirings,
          firstTimerDueSeconds: firstDue === undefined ? null : (Number(firstDue) - t0) / 1000,
          wallMs: lastAt - t0,
          movedMs,
          firstCallMs: firstAt - t0,
          calls: reqs.filter((r) => r.status !== 429).length,
          r429: reqs.filter((r) => r.status === 429).length,
          ops,
          serviceCpuMs,
          redisCommands,
          ...(card ? { card } : {}),
        };
      } finally {
        await readerProc?.close();
        await svc.stop();
      }
    }, playbook);
  } finally {
    info.disconnect();
    await redisServer.close();
  }
}

/** A web and a worker process seen as one service: CPU and timer firings summed, the loop the web one's. */
function splitService(web: ServiceProc, worker: ServiceProc): ServiceProc {
  const both = [web, worker];
  return {
    role: 'split',
    pid: web.pid,
    url: web.url,
    cpuMs: async () => (await Promise.all(both.map((p) => p.cpuMs()))).reduce((a, b) => a + b, 0),
    systemCpuMs: async () => (await Promise.all(both.map((p) => p.systemCpuMs()))).reduce((a, b) => a + b, 0),
    loop: () => web.loop(),
    redisBacklog: () => web.redisBacklog(),
    timerFirings: async () => {
      const [a, b] = await Promise.all(both.map((p) => p.timerFirings()));
      return {
        warnings: a!.warnings + b!.warnings,
        breaches: a!.breaches + b!.breaches,
        escalations: a!.escalations + b!.escalations,
      };
    },
    work: async () => {
      const [a, b] = await Promise.all(both.map((p) => p.work()));
      return { jobs: a!.jobs + b!.jobs, conflicts: a!.conflicts + b!.conflicts };
    },
    floorServer: () => web.floorServer(),
    floorCalls: (n, dealId, gapMs) => web.floorCalls(n, dealId, gapMs),
    profileStart: async () => {
      await Promise.all(both.map((p) => p.profileStart()));
    },
    profileStop: async (name) => {
      await Promise.all(both.map((p) => p.profileStop(name)));
    },
    stop: async () => {
      await Promise.all(both.map((p) => p.stop()));
    },
  };
}

export const cardSummary = (c: NonNullable<MoveResult['card']>) => ({
  idleP50: percentile(c.idle, 50),
  idleP99: percentile(c.idle, 99),
  idleAfterP50: percentile(c.idleAfter, 50),
  idleAfterP99: percentile(c.idleAfter, 99),
  duringP50: percentile(c.during, 50),
  duringP99: percentile(c.during, 99),
});
