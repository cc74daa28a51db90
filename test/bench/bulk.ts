/**
 * Fuller batches under a bulk move: N deals moved at once through webhooks under HubSpot's burst limit, at an
 * OAuth app's 110 and a private app's 190 requests per 10 s (the sandbox enforces the limit, so 429s are real).
 * The floor comes from the work, not from the calls the run happened to make: each 100 deals need one call on each
 * of 4 batch endpoints, and at R requests per 10 s those calls take (calls / (R / 10)) seconds.
 * Beside each move, the rate limiter alone making the floor's calls (pace.ts), in the same run: what its pacing
 * costs apart from the service's CPU and the portal's answers.
 * Imports: move.ts (service-child.ts = startStack, the sandbox), pace.ts.
 */
import { numberFlag, printTargets, round, runIfMain, table, type BenchResult, type Target } from './common';
import { bulkMove, type MoveResult } from './move';
import { limiterPace } from './pace';
import { playbookNote, type BenchPlaybookName } from './playbook';
import { firingsTotal } from './service-proc';

/** Four batch endpoints at 100 inputs per call: read the deals, create tasks, complete tasks, write deals back. */
export const FLOOR_CALLS_PER_100 = 4;
/** The limit the wall target is judged at (issue #18's "Done means"): an OAuth app's burst limit. */
export const WALL_JUDGED_AT = 110;
export const floorCalls = (deals: number) => FLOOR_CALLS_PER_100 * Math.ceil(deals / 100);
export const floorSeconds = (deals: number, ratePer10s: number) => floorCalls(deals) / (ratePer10s / 10);
/**
 * Not the target's floor, a note on it: HubSpot's window is a rolling 10 s allowing `limit` calls at once, so a
 * client that bursts a whole window at a time (and makes card reads wait up to a window) could make the calls in
 * whole windows: the last of them starts a window after each full window before it.
 */
export const burstFloorSeconds = (deals: number, ratePer10s: number) =>
  Math.floor((floorCalls(deals) - 1) / ratePer10s) * 10;

/** `playbook`: bench (the default; SLAs outlast set-up and move) or chaos (to see what timer firings do to a move). */
export type BulkOptions = {
  deals?: number;
  rates?: number[];
  budgetMs?: number;
  playbook?: BenchPlaybookName;
};

export async function run(opts: BulkOptions = {}): Promise<BenchResult> {
  const deals = opts.deals ?? 1_000;
  const rates = opts.rates ?? [110, 190];
  const runs: MoveResult[] = [];
  const paced = new Map<number, number>();
  for (const ratePer10s of rates) {
    runs.push(
      await bulkMove({
        deals,
        ratePer10s,
        budgetMs: opts.budgetMs ?? 20 * 60_000,
        ...(opts.playbook ? { playbook: opts.playbook } : {}),
      }),
    );
    const p = await limiterPace({ ratePer10s, calls: floorCalls(deals) });
    paced.set(ratePer10s, p.wallMs / p.floorMs);
  }
  const floor = floorCalls(deals);
  console.log(
    table(`Bulk move of ${deals.toLocaleString('en-US')} deals; floor ${floor} calls (4 per 100 deals)`, [
      [
        'limit / 10 s',
        'wall s',
        'floor s',
        'wall/floor',
        'calls',
        'calls/floor',
        '429s',
        'first call s',
        'CPU ms/deal',
        'CPU/wall',
        'limiter alone/floor',
        'timer firings',
        'settled',
      ],
      ...runs.map((m) => [
        m.ratePer10s,
        m.wallMs / 1000,
        floorSeconds(deals, m.ratePer10s),
        m.wallMs / 1000 / floorSeconds(deals, m.ratePer10s),
        m.calls,
        m.calls / floor,
        m.r429,
        m.firstCallMs / 1000,
        m.serviceCpuMs / deals,
        m.serviceCpuMs / m.wallMs,
        paced.get(m.ratePer10s)!,
        firingsTotal(m.timerFirings),
        String(m.settled),
      ]),
    ]),
  );
  const figures: BenchResult['figures'] = { deals, floorCalls: floor };
  const targets: Target[] = [];
  for (const m of runs) {
    const r = m.ratePer10s;
    const wallOverFloor = m.wallMs / 1000 / floorSeconds(deals, r);
    Object.assign(figures, {
      [`wallSeconds${r}`]: round(m.wallMs / 1000),
      [`floorSeconds${r}`]: round(floorSeconds(deals, r)),
      [`wallOverFloor${r}`]: round(wallOverFloor),
      [`calls${r}`]: m.calls,
      [`callsOverFloor${r}`]: round(m.calls / floor),
      [`http429s${r}`]: m.r429,
      [`settled${r}`]: m.settled,
      // SLA timers that fired during the move: their decisions and calls are not the move's (0 expected).
      [`timerFirings${r}`]: firingsTotal(m.timerFirings),
      [`firstTimerDueSeconds${r}`]: m.firstTimerDueSeconds === null ? 'none' : round(m.firstTimerDueSeconds),
      [`serviceCpuMsPerDeal${r}`]: round(m.serviceCpuMs / deals),
      // Service CPU over the wall: near 1 (one core), the service, not the rate limit, paced the move.
      [`serviceCpuOverWall${r}`]: round(m.serviceCpuMs / m.wallMs),
      [`movedSeconds${r}`]: round(m.movedMs / 1000),
      [`firstCallSeconds${r}`]: round(m.firstCallMs / 1000),
      [`burstFloorSeconds${r}`]: burstFloorSeconds(deals, r),
      // The limiter alone making the same calls (pace.ts): the part of wall/floor that is its pacing.
      [`limiterOnlyWallOverFloor${r}`]: round(paced.get(r)!),
      [`ops${r}`]: JSON.stringify(m.ops),
    });
    // Issue #18 asks for the wall at an OAuth app's 110 per 10 s; at 190 it is reported (its calls against the
    // floor too), not judged. 429s are judged at every limit.
    if (r === WALL_JUDGED_AT)
      targets.push({
        name: `bulk wall vs 4-calls-per-100 floor at ${r} / 10 s`,
        target: '<= 1.2x',
        value: round(wallOverFloor),
        unit: 'x',
        // A move with timer firings in it measured more than the move: not counted as met.
        met: wallOverFloor <= 1.2 && m.settled && firingsTotal(m.timerFirings) === 0,
      });
    targets.push({
      name: `HTTP 429s at ${r} / 10 s`,
      target: '0',
      value: m.r429,
      unit: '429s',
      met: m.r429 === 0,
    });
  }
  const first = runs[0]!;
  const result: BenchResult = {
    name: 'bulk',
    figures,
    baseline: {
      what: 'floor from the work: 4 calls per 100 deals, at the limit (calls / (limit / 10) s)',
      figures: Object.fromEntries(rates.map((r) => [`floorSeconds${r}`, round(floorSeconds(deals, r))])),
    },
    ratio: {
      what: `bulk wall / floor at ${first.ratePer10s} / 10 s`,
      value: round(first.wallMs / 1000 / floorSeconds(deals, first.ratePer10s)),
    },
    targets,
    notes: [
      `${deals.toLocaleString('en-US')} deals${deals < 10_000 ? ' (scaled; the issue asks for 10,000: --full or BENCH_BULK_DEALS=10000)' : ''}`,
      'wall = first move to the last HubSpot call the service made; each limit in a fresh portal and redis-server',
      "the floor assumes steady pacing at limit / 10 per s; HubSpot's rolling window would allow bursts of a whole " +
        'window (burstFloorSeconds), which the service does not take: it paces bulk work so card reads find slots',
      'serviceCpuOverWall near 1: the service process was CPU-bound (one core), not paced by the limit',
      `the wall target is judged at ${WALL_JUDGED_AT} / 10 s, as issue #18 asks; other limits are reported (wallOverFloor, callsOverFloor)`,
      playbookNote(first.playbook),
      ...runs
        .filter((m) => firingsTotal(m.timerFirings) > 0)
        .map(
          (m) =>
            `at ${m.ratePer10s} / 10 s, ${firingsTotal(m.timerFirings)} SLA timer firings ran during the move ` +
            `(${JSON.stringify(m.timerFirings)}): its wall and calls include them, so its target is not met`,
        ),
    ],
  };
  printTargets(result);
  return result;
}

await runIfMain(import.meta.url, run, {
  deals: numberFlag('deals'),
  rates: (v) => ({ rates: v.split(',').map(Number) }),
  playbook: (v): BulkOptions => {
    if (v !== 'bench' && v !== 'chaos') throw new Error(`--playbook: bench or chaos, got ${v}`);
    return { playbook: v };
  },
});
