/**
 * History reads as the portal grows:
 * - a deal's card (GET /api/card/deal/:id, signed) when the current week holds 2,000 and then 500,000 visits of
 *   other deals: its breach history should cost the deal's visits, not the portal's (ratio near 1). Compared over
 *   reads whose HubSpot view was read live at both sizes (a card in a busy spell answers from its recent read
 *   without calling HubSpot, a different path); the Server-Timing phases, GETRANGEs and bytes per read show the
 *   history part alone;
 * - the week's scorecard (GET /api/scorecard) over 1,000,000 visits from Redis to result, while another Redis
 *   client PINGs every 5 ms: the worst PING is how long every other client (webhook acknowledgements included)
 *   waited meanwhile; the same PINGs on the idle Redis are the baseline.
 * Visits are written through the service's history store (HistoryStore.append, today's layout: exit spans kept).
 * Imports: service-proc.ts (service-child.ts = startStack), scene.ts (the sandbox), HistoryStore, redisKeys.
 */
import { Redis } from 'ioredis';
import { latestCompleteWeek, weekRange, type HistoryRow } from '@stagekeeper/shared';
import { BUSY_MS } from '@stagekeeper/sync-service/api/card-snapshot';
import { parseServerTiming } from '@stagekeeper/sync-service/api/server-timing';
import { createLogger } from '@stagekeeper/sync-service/log';
import { HistoryStore } from '@stagekeeper/sync-service/state/history-store';
import { redisKeys } from '@stagekeeper/sync-service/state/keys';
import { CHAOS_PIPELINE, chaosPlaybook } from '../chaos/playbook';
import {
  numberFlag,
  percentile,
  printTargets,
  round,
  runIfMain,
  sleep,
  table,
  type BenchResult,
} from './common';
import { playbookNote } from './playbook';
import { withRig, withService } from './rig';
import { commandStats } from './redis-stats';
import { createDeals, quiet, STAGES } from './scene';
import { signedGet } from './service-proc';

export type HistoryOptions = { smallWeek?: number; bigWeek?: number; scorecardRows?: number; reads?: number };

const DAY_MS = 86_400_000;
const WRITE_CHUNK = 5_000;

// Fixed seed, so runs are comparable.
let seed = 7;
const rand = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;

function visit(dealId: string, exitedAt: number): HistoryRow {
  const stage = STAGES[Math.floor(rand() * STAGES.length)]!;
  const businessMs = Math.floor(rand() * 4 * 3600_000);
  const slaOutcome = (['met', 'breached', 'none', 'cancelled'] as const)[Math.floor(rand() * 4)]!;
  return {
    dealId,
    pipeline: CHAOS_PIPELINE,
    stage,
    ownerRole: 'care',
    ownerId: null,
    enteredAt: exitedAt - businessMs,
    exitedAt,
    businessMs,
    toStage: null,
    direction: 'forward',
    slaOutcome,
    breachReason: slaOutcome === 'breached' ? 'capacity' : null,
  };
}

/** `n` visits of other deals exiting in [from, to), written in chunks through the store. */
async function fill(
  store: HistoryStore,
  portalId: string,
  n: number,
  from: number,
  to: number,
  idBase: number,
) {
  for (let i = 0; i < n; i += WRITE_CHUNK) {
    const rows: HistoryRow[] = [];
    for (let j = i; j < Math.min(n, i + WRITE_CHUNK); j++)
      rows.push(visit(String(idBase + j), from + Math.floor(rand() * (to - from))));
    await store.append(portalId, rows);
  }
}

/** Bytes Redis has sent its clients since it started (INFO stats). */
async function bytesSent(redis: Redis): Promise<number> {
  return Number(/total_net_output_bytes:(\d+)/.exec(await redis.info('stats'))![1]);
}

/**
 * A set of card reads: each read's latency and its Server-Timing "view" phase (the card view, which holds the
 * deal's history read), and what Redis did for them, which no machine load changes: the GETRANGEs per read (the
 * deal's packed rows, one each) and the bytes Redis sent per read (the service's background work included, a
 * few hundred bytes).
 */
type CardReads = {
  ms: number[];
  viewMs: number[];
  /** Every Server-Timing phase of every read (api/card-routes.ts), and `outside`: the latency beyond `total`. */
  phases: Record<string, number[]>;
  /** Reads whose HubSpot view was read live (the rest came from the card's recent read, no HubSpot call). */
  live: number;
  /** Latencies of `reads` live reads (more reads taken, after a busy spell, until there are that many). */
  liveMs: number[];
  rowReadsPerRead: number;
  bytesPerRead: number;
};
const PHASES = ['playbook', 'state', 'live', 'slot', 'hubspot', 'view', 'total', 'outside'] as const;

/** PINGs every 5 ms on its own connection until stopped; round-trip times. */
function pinger(url: string) {
  const client = new Redis(url);
  const rtts: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const t0 = performance.now();
      await client.ping();
      rtts.push(performance.now() - t0);
      await sleep(5);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      client.disconnect();
      return rtts;
    },
  };
}

export async function run(opts: HistoryOptions = {}): Promise<BenchResult> {
  const small = opts.smallWeek ?? 2_000;
  const big = opts.bigWeek ?? 50_000;
  const scorecardRows = opts.scorecardRows ?? 100_000;
  const reads = opts.reads ?? 30;
  return withRig('history', (rig) =>
    withService(rig, async (svc) => {
      const { sandbox, redis, redisUrl } = rig;
      const store = new HistoryStore(redis, redisKeys(rig.prefix), createLogger('silent'));
      const tracked = createDeals(sandbox, 1);
      if (!(await quiet(sandbox, tracked, Date.now() + 60_000))) throw new Error('the deal was not tracked');
      const dealId = [...tracked.keys()][0]!;
      const now = Date.now();
      // The scorecard's week: the latest complete local week of the playbook's zone, as the page defaults to.
      const zone = chaosPlaybook().calendars[0]!.timeZone;
      const week = weekRange(latestCompleteWeek(now, zone), zone);
      // The current UTC week (the store's bucket): from its Monday, or the last 3 days if that is later, and after
      // the scorecard's week, which may end inside it (a zone west of UTC): the card's visits are not the
      // scorecard's, which then counts exactly its own rows.
      const day = Math.floor(now / DAY_MS);
      const monday = (day - ((day + 3) % 7)) * DAY_MS;
      const from = Math.min(Math.max(monday, now - 3 * DAY_MS, week.end), now - 2_000);
      // The deal's own visits: five finished ones this week.
      await store.append(
        sandbox.portalId,
        Array.from({ length: 5 }, (_, i) => visit(dealId, Math.max(week.end, now - (i + 1) * 60_000))),
      );
      const cardReads = async (): Promise<CardReads> => {
        const ms: number[] = [];
        const viewMs: number[] = [];
        const phases: Record<string, number[]> = Object.fromEntries(PHASES.map((p) => [p, []]));
        let live = 0;
        const getrange0 = (await commandStats(redis))['getrange'] ?? 0;
        const bytes0 = await bytesSent(redis);
        for (let i = 0; i < reads; i++) {
          const t0 = performance.now();
          const r = await signedGet(svc.url!, sandbox.secret, sandbox.portalId, `/api/card/deal/${dealId}`);
          if (r.status !== 200) throw new Error(`card read answered ${r.status}`);
          ms.push(performance.now() - t0);
          if ((r.body as { freshness?: { source?: string } }).freshness?.source === 'live') live++;
          const timing = parseServerTiming(r.headers.get('server-timing'));
          viewMs.push(timing.view ?? NaN);
          for (const p of PHASES)
            phases[p]!.push(p === 'outside' ? ms.at(-1)! - (timing.total ?? NaN) : (timing[p] ?? 0));
        }
        const bytes1 = await bytesSent(redis);
        const getrange1 = (await commandStats(redis))['getrange'] ?? 0;
        const liveMs = ms.filter((_, i) => phases['live']![i]! > 0);
        const until = Date.now() + 12 * BUSY_MS;
        while (liveMs.length < reads && Date.now() < until) {
          const t0 = performance.now();
          const r = await signedGet(svc.url!, sandbox.secret, sandbox.portalId, `/api/card/deal/${dealId}`);
          const took = performance.now() - t0;
          if ((r.body as { freshness?: { source?: string } }).freshness?.source === 'live') liveMs.push(took);
          else await sleep(1_000);
        }
        return {
          ms,
          viewMs,
          phases,
          live,
          liveMs,
          rowReadsPerRead: round((getrange1 - getrange0) / reads),
          // One INFO reply (~1 kB) is in the bytes.
          bytesPerRead: Math.round((bytes1 - bytes0) / reads),
        };
      };
      /**
       * Until the card reads HubSpot live again. A live read slower than the card's budget (3x its median: this
       * process, which serves the sandbox, busy writing visits or the machine loaded) starts a busy spell of
       * BUSY_MS in which cards answer from their recent read with no HubSpot call, ~2 ms instead of ~6-20: a set
       * of reads measured partly in such a spell compared a different path (issue #18 (a): 1.84x, 0.44x, 2.34x
       * with the history part unchanged). Each size is measured once its reads go live, and says how many did.
       */
      const settle = async () => {
        const until = Date.now() + 6 * BUSY_MS;
        while (Date.now() < until) {
          const r = await signedGet(svc.url!, sandbox.secret, sandbox.portalId, `/api/card/deal/${dealId}`);
          if ((r.body as { freshness?: { source?: string } }).freshness?.source === 'live') return;
          await sleep(1_000);
        }
      };
      await fill(store, sandbox.portalId, small, from, now - 1_000, 9_000_000_000);
      // Warm-up (JIT, sockets) twice over, so the first measured size is not the colder one.
      await cardReads();
      await cardReads();
      await settle();
      const atSmall = await cardReads();
      await fill(store, sandbox.portalId, big - small, from, now - 1_000, 9_100_000_000);
      // The same warm-up after the big fill: writing 500,000 visits leaves this process (the sandbox serving the
      // card's HubSpot read) and Redis with garbage to collect, which the first reads after it would measure.
      await cardReads();
      await settle();
      const atBig = await cardReads();

      await fill(store, sandbox.portalId, scorecardRows, week.start, week.end, 8_000_000_000);
      const idlePing = pinger(redisUrl);
      await sleep(1_000);
      const idleRtts = await idlePing.stop();
      const busyPing = pinger(redisUrl);
      // BENCH_CPU_PROF=<dir>: the scorecard's request profiled in the service.
      if (process.env.BENCH_CPU_PROF) await svc.profileStart();
      const t0 = performance.now();
      const card = await signedGet(svc.url!, sandbox.secret, sandbox.portalId, '/api/scorecard');
      const scorecardMs = performance.now() - t0;
      if (process.env.BENCH_CPU_PROF) await svc.profileStop('scorecard');
      const busyRtts = await busyPing.stop();
      const body = card.body as { byStage?: unknown[]; totals?: { volume?: number } };
      if (card.status !== 200 || !Array.isArray(body.byStage) || body.byStage.length === 0)
        throw new Error(`scorecard answered ${card.status} without stages: the rows were not read`);
      // Every row written for it, and no other.
      const counted = body.totals?.volume;
      if (counted !== scorecardRows)
        throw new Error(
          `the scorecard counted ${counted} visits, not the ${scorecardRows} written for its week`,
        );

      // Like with like: live reads at both sizes (a read from the card's recent read skips HubSpot, ~2 ms).
      const s50 = percentile(atSmall.liveMs, 50);
      const b50 = percentile(atBig.liveMs, 50);
      const sView = percentile(atSmall.viewMs, 50);
      const bView = percentile(atBig.viewMs, 50);
      const ratio = b50 / s50;
      const pingMax = Math.max(...busyRtts);
      console.log(
        table('Card read (signed GET /api/card/deal/:id) by size of the current week', [
          [
            'visits this week',
            'reads',
            'live',
            'p50 ms',
            'p99 ms',
            'live p50 ms (n)',
            'view p50 ms',
            'GETRANGE/read',
            'Redis B/read',
          ],
          ...(
            [
              [small, atSmall],
              [big, atBig],
            ] as const
          ).map(([n, r]) => [
            n,
            r.ms.length,
            r.live,
            percentile(r.ms, 50),
            percentile(r.ms, 99),
            `${round(percentile(r.liveMs, 50))} (${r.liveMs.length})`,
            percentile(r.viewMs, 50),
            r.rowReadsPerRead,
            r.bytesPerRead,
          ]),
        ]),
      );
      console.log(
        table('Card read p50 per Server-Timing phase (ms; outside: latency beyond the handler)', [
          ['visits this week', ...PHASES],
          [small, ...PHASES.map((p) => percentile(atSmall.phases[p]!, 50))],
          [big, ...PHASES.map((p) => percentile(atBig.phases[p]!, 50))],
        ]),
      );
      console.log(
        table(
          `Scorecard over ${scorecardRows.toLocaleString('en-US')} visits from Redis (GET /api/scorecard)`,
          [
            ['what', 'ms'],
            ['request to result', scorecardMs],
            ['other client PING max meanwhile', pingMax],
            ['other client PING max, idle Redis (baseline)', Math.max(...idleRtts)],
          ],
        ),
      );
      const result: BenchResult = {
        name: 'history',
        figures: {
          smallWeekVisits: small,
          bigWeekVisits: big,
          cardP50MsSmallWeek: round(s50),
          cardP50MsSmallWeekAllReads: round(percentile(atSmall.ms, 50)),
          cardP99MsSmallWeek: round(percentile(atSmall.ms, 99)),
          cardViewP50MsSmallWeek: round(sView),
          cardLiveReadsSmallWeek: atSmall.live,
          rowReadsPerCardReadSmallWeek: atSmall.rowReadsPerRead,
          redisBytesPerCardReadSmallWeek: atSmall.bytesPerRead,
          cardP50MsBigWeek: round(b50),
          cardP50MsBigWeekAllReads: round(percentile(atBig.ms, 50)),
          cardP99MsBigWeek: round(percentile(atBig.ms, 99)),
          cardViewP50MsBigWeek: round(bView),
          cardLiveReadsBigWeek: atBig.live,
          rowReadsPerCardReadBigWeek: atBig.rowReadsPerRead,
          redisBytesPerCardReadBigWeek: atBig.bytesPerRead,
          scorecardRows,
          scorecardMs: round(scorecardMs),
          pingMaxMsDuringScorecard: round(pingMax),
          pingP99MsDuringScorecard: round(percentile(busyRtts, 99)),
        },
        baseline: {
          what: `the card read at ${small} visits a week; PINGs on the idle Redis (same run)`,
          figures: { cardP50MsSmallWeek: round(s50), idlePingMaxMs: round(Math.max(...idleRtts)) },
        },
        ratio: {
          what: `card p50 at ${big} / at ${small} visits a week, live reads at both (${atBig.liveMs.length} / ${atSmall.liveMs.length})`,
          value: round(ratio),
        },
        targets: [
          {
            name: 'card history read independent of week size (p50 ratio)',
            target: '<= 1.5x',
            value: round(ratio),
            unit: 'x',
            met: ratio <= 1.5,
          },
          {
            name: `scorecard over ${scorecardRows.toLocaleString('en-US')} rows from Redis`,
            target: '< 2000 ms',
            value: round(scorecardMs),
            unit: 'ms',
            met: scorecardMs < 2_000,
          },
          {
            name: 'worst wait of another Redis client during the scorecard',
            target: '<= 50 ms',
            value: round(pingMax),
            unit: 'ms',
            met: pingMax <= 50,
            note: 'the 50 ms bound is the bench\'s proposal; the issue says "without stalling other clients"',
          },
        ],
        notes: [
          big < 500_000 || scorecardRows < 1_000_000
            ? `scaled (${big.toLocaleString('en-US')} visits a week, ${scorecardRows.toLocaleString('en-US')} scorecard rows); the issue asks for 500,000 and 1,000,000: --full`
            : 'full sizes',
          `the card read includes its HubSpot snapshot (sandbox): read live in ${atSmall.live} / ${atBig.live} of ${reads} reads at ${small} / ${big} visits (the rest from the card's recent read, no HubSpot call, a busy spell after a slow read); the p50s and ratio are over live reads only (more taken until ${reads}), so both sizes take the same path`,
          `the history part alone, at ${small} / ${big} visits: Server-Timing view p50 ${round(sView)} / ${round(bView)} ms, ` +
            `${atSmall.rowReadsPerRead} / ${atBig.rowReadsPerRead} GETRANGE and ${atSmall.bytesPerRead} / ${atBig.bytesPerRead} B from Redis a read`,
          playbookNote(rig.playbook),
        ],
      };
      printTargets(result);
      return result;
    }),
  );
}

await runIfMain(import.meta.url, run, {
  full: { bigWeek: 500_000, scorecardRows: 1_000_000 },
  big: numberFlag('bigWeek'),
  rows: numberFlag('scorecardRows'),
});
