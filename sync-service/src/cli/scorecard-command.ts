import {
  assertZone,
  cycleTime,
  findStage,
  formatDurationMs,
  formatScorecard,
  isoWeekOf,
  monthRange,
  openVisitOf,
  parseIsoWeek,
  reportingZone,
  weekRange,
  type Playbook,
  type ScorecardFormat,
} from '@stagekeeper/shared';
import type { Redis } from 'ioredis';
import { DEFAULT_KEY_PREFIX, SANDBOX_KEY_PREFIX } from '../config';
import { createLogger, silentLogger } from '../log';
import { HistoryWeeks } from '../api/history-weeks';
import { HistoryStore } from '../state/history-store';
import { redisKeys } from '../state/keys';
import { PlaybookStore } from '../state/playbook-store';
import { DealStateStore } from '../state/deal-state-store';
import { readWhatIfData } from '../api/whatif-data';
import { cliConfig, redisLabel, withRedis } from './env';
import { CliError, line, type CliIo } from './io';
import { readPlaybookOrFail } from './playbook-commands';

export type ScorecardOptions = {
  week?: string;
  /** "YYYY-MM": the monthly review instead of a week. */
  month?: string;
  format: ScorecardFormat;
  portal?: string;
  zone?: string;
  playbook?: string;
  /** "fromStageId:toStageId": cycle time between two stages. */
  cycle?: string;
};

/** How far back a cycle's start is looked for: a cohort whose start is older is not counted, not guessed. */
const CYCLE_WEEKS_BACK = 8;

const WEEK_MS = 7 * 24 * 3600_000;

export type ScorecardDeps = {
  /** The prefixes looked at when KEY_PREFIX is unset (tests pass their own so they never read the real ones). */
  prefixes?: { keyPrefix: string; sandboxPrefix: string };
  openRedis?: typeof withRedis;
};

const DEFAULT_PREFIXES = { keyPrefix: DEFAULT_KEY_PREFIX, sandboxPrefix: SANDBOX_KEY_PREFIX };

/**
 * The key prefix and portal to read. With KEY_PREFIX unset and nothing under the default prefix, the sandbox's
 * data (what `npm start` without credentials writes) is what the user means: read it and say so on stderr.
 */
async function locate(
  io: CliIo,
  redis: Redis,
  redisUrl: string,
  explicitPrefix: string | undefined,
  asked: string | undefined,
  defaults: NonNullable<ScorecardDeps['prefixes']>,
): Promise<{ keyPrefix: string; portalId: string }> {
  const portalsUnder = (prefix: string) =>
    new PlaybookStore(redis, redisKeys(prefix), silentLogger).portals();
  let keyPrefix = explicitPrefix ?? defaults.keyPrefix;
  let portals = await portalsUnder(keyPrefix);
  if (portals.length === 0 && explicitPrefix === undefined) {
    const sandbox = await portalsUnder(defaults.sandboxPrefix);
    if (sandbox.length > 0) {
      io.err(
        line(
          `note: no portal under KEY_PREFIX=${keyPrefix}; reading the sandbox's data (KEY_PREFIX=${defaults.sandboxPrefix})`,
        ),
      );
      keyPrefix = defaults.sandboxPrefix;
      portals = sandbox;
    }
  }
  if (asked) return { keyPrefix, portalId: asked };
  if (portals.length === 1) return { keyPrefix, portalId: portals[0]! };
  if (portals.length > 1)
    throw new CliError(`several portals have data (${portals.join(', ')}); pass --portal ID`);
  const where =
    explicitPrefix === undefined ? `${keyPrefix} (nor ${defaults.sandboxPrefix}, the sandbox's)` : keyPrefix;
  throw new CliError(
    `no portal has a stored playbook under KEY_PREFIX=${where} in the Redis at ${redisLabel(redisUrl)} (REDIS_URL): ` +
      "point REDIS_URL and KEY_PREFIX at the service's Redis (npm start prints the command for its sandbox), " +
      'or publish a playbook (playbook publish FILE --portal ID)',
  );
}

async function resolvePlaybook(
  store: PlaybookStore,
  portalId: string,
  file: string | undefined,
): Promise<Playbook> {
  if (file) return readPlaybookOrFail(file);
  const stored = await store.current(portalId);
  if (!stored) throw new CliError(`no playbook stored for portal ${portalId}; pass --playbook FILE`);
  return stored.playbook;
}

export async function runScorecard(
  io: CliIo,
  opts: ScorecardOptions,
  deps: ScorecardDeps = {},
): Promise<number> {
  // Argument mistakes first: no reason to wait for Redis to learn the week is misspelt.
  if (opts.week !== undefined && opts.month !== undefined)
    throw new CliError('pass --week or --month, not both');
  if (opts.week !== undefined) parseIsoWeek(opts.week);
  if (opts.month !== undefined) monthRange(opts.month);
  if (opts.zone !== undefined) assertZone(opts.zone);
  const cycle =
    opts.cycle === undefined ? undefined : /^([A-Za-z0-9_.-]+):([A-Za-z0-9_.-]+)$/.exec(opts.cycle);
  if (cycle === null)
    throw new CliError(`--cycle: expected two stage ids like 1180512201:1180512208, got "${opts.cycle}"`);
  const config = cliConfig(io.env);
  const portalArg = opts.portal ?? config.hubspot.portalId;
  if (portalArg !== undefined && !/^\d+$/.test(portalArg))
    throw new CliError(`invalid portal id "${portalArg}": expected digits`);
  // Corrupt-row warnings go to stderr as the service logs them (counts only, never row contents).
  const log = createLogger('warn', { write: (msg: string) => io.err(msg) });
  const explicitPrefix = io.env.KEY_PREFIX?.trim() ? config.keyPrefix : undefined;
  return (deps.openRedis ?? withRedis)(config.redisUrl, async (redis: Redis) => {
    const { keyPrefix, portalId } = await locate(
      io,
      redis,
      config.redisUrl,
      explicitPrefix,
      portalArg,
      deps.prefixes ?? DEFAULT_PREFIXES,
    );
    const keys = redisKeys(keyPrefix);
    const playbooks = new PlaybookStore(redis, keys, log);
    const playbook = await resolvePlaybook(playbooks, portalId, opts.playbook);
    const zone = opts.zone ?? reportingZone(playbook);
    // The current week (or month) so far: a fresh install (or the sandbox demo) has no complete week yet.
    const now = io.now();
    const range =
      opts.month !== undefined
        ? monthRange(opts.month, zone)
        : weekRange(opts.week ?? isoWeekOf(now, zone), zone);
    const weeks = new HistoryWeeks(redis, keys, new HistoryStore(redis, keys, log));
    const fold = await weeks.scorecard(portalId, playbook, range, { zone, now });
    const { running } = await readWhatIfData({
      redis,
      keys,
      log,
      states: new DealStateStore(redis, keys, log),
      portalId,
      now,
      weeks: 0,
    });
    const open = running.flatMap((s) => openVisitOf(s) ?? []);
    const card = fold.result(open);
    io.out(line(formatScorecard(card, opts.format)));
    if (cycle) {
      const back = { ...range, start: range.start - CYCLE_WEEKS_BACK * WEEK_MS };
      const history = await weeks.rows(portalId, back.start, back.end);
      const ct = cycleTime(history, open, cycle[1]!, cycle[2]!, range.start, range.end);
      const label = (id: string) => findStage(playbook, id)?.stage.label ?? id;
      io.out(
        line(
          opts.format === 'json'
            ? JSON.stringify(ct)
            : `Cycle time ${label(ct.from)} -> ${label(ct.to)}: ${ct.deals} deal(s), median ${formatDurationMs(ct.medianMs)}, p90 ${formatDurationMs(ct.p90Ms)} (wall time)`,
        ),
      );
    }
    return 0;
  });
}
