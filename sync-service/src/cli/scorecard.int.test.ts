import {
  Scorecard,
  examplePlaybookPath,
  loadExamplePlaybook,
  weekRange,
  type HistoryRow,
} from '@stagekeeper/shared';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../log';
import { HistoryStore } from '../state/history-store';
import { redisKeys } from '../state/keys';
import { PlaybookStore } from '../state/playbook-store';
import { runCaptured } from './testing';

// KEY_PREFIX allows 32 characters: pid plus a short clock suffix keeps parallel runs apart.
const prefix = `skcli-${process.pid}-${Date.now() % 1e6}`;
const env = { REDIS_URL: 'redis://127.0.0.1:6379', KEY_PREFIX: prefix };
const PORTAL = '4242';
const H = 3600_000;
let redis: Redis;

const playbook = loadExamplePlaybook('telehealth');
const pipeline = playbook.pipelines[0]!;
const [first, second, third] = pipeline.stages;
const zone = playbook.calendars[0]!.timeZone; // America/New_York
const w47 = weekRange('2026-W47', zone);

const row = (over: Partial<HistoryRow> & Pick<HistoryRow, 'dealId' | 'exitedAt'>): HistoryRow => ({
  pipeline: pipeline.id,
  stage: first!.id,
  ownerRole: first!.ownerRole,
  ownerId: '61230455',
  enteredAt: over.exitedAt - 2 * H,
  businessMs: 2 * H,
  toStage: second!.id,
  direction: 'forward',
  slaOutcome: 'met',
  breachReason: null,
  ...over,
});

beforeAll(async () => {
  redis = new Redis(env.REDIS_URL, { maxRetriesPerRequest: 3 });
  const keys = redisKeys(prefix);
  await new PlaybookStore(redis, keys, silentLogger).save(PORTAL, playbook);
  await new HistoryStore(redis, keys, silentLogger).append(PORTAL, [
    row({ dealId: '1', exitedAt: w47.start + 10 * H, businessMs: 1 * H }),
    row({
      dealId: '2',
      exitedAt: w47.start + 30 * H,
      businessMs: 3 * H,
      slaOutcome: 'breached',
      breachReason: 'capacity',
    }),
    row({
      dealId: '3',
      exitedAt: w47.start + 50 * H,
      stage: second!.id,
      ownerRole: second!.ownerRole,
      direction: 'backward',
      toStage: first!.id,
    }),
    // Sunday 22:00 in New York is Monday in UTC: stored in the next UTC week's bucket, still week 47 locally.
    row({ dealId: '4', exitedAt: w47.end - 2 * H, businessMs: 5 * H }),
    // Outside the week on either side.
    row({ dealId: '5', exitedAt: w47.start - 1 }),
    row({ dealId: '6', exitedAt: w47.end }),
  ]);
});

afterAll(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
});

describe('stagekeeper scorecard against Redis', () => {
  it('json: the §4.7 shape for the local week, including rows stored in the next UTC bucket', async () => {
    const r = await runCaptured(
      ['scorecard', '--week', '2026-W47', '--format', 'json', '--portal', PORTAL],
      env,
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const card = Scorecard.parse(JSON.parse(r.stdout));
    expect(card).toMatchObject({
      week: '2026-W47',
      weekStart: '2026-11-16',
      weekEnd: '2026-11-22',
      timeZone: zone,
    });
    expect(card.byStage.map((s) => [s.stage.id, s.volume])).toEqual([
      [first!.id, 3],
      [second!.id, 1],
    ]);
    expect(card.byStage[0]).toMatchObject({
      pipeline: { id: pipeline.id, label: pipeline.label },
      stage: { id: first!.id, label: first!.label },
      medianTimeInStageMs: 3 * H,
      slaVisits: 3,
      breached: 1,
      breachRate: 1 / 3,
      conversionRate: 1,
      topBreachReasons: [{ reason: 'capacity', count: 1 }],
    });
    expect(card.totals).toMatchObject({ volume: 4, backflowRate: 0.25 });
  });

  it('csv and table come from the same rows; the portal is found when it is the only one', async () => {
    const csv = await runCaptured(['scorecard', '--week', '2026-W47', '--format', 'csv'], env);
    expect(csv.code).toBe(0);
    const lines = csv.stdout.trimEnd().split('\r\n');
    expect(lines[0]!.startsWith('week,scope,pipeline_id')).toBe(true);
    expect(lines[1]).toContain(
      `2026-W47,stage,${pipeline.id},${pipeline.label},${first!.id},${first!.label},,,3,${3 * H}`,
    );
    expect(lines.filter((l) => l.startsWith('2026-W47,total,,,,,,,4,'))).toHaveLength(1);

    const table = await runCaptured(['scorecard', '--week', '2026-W47'], env);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain('Scorecard 2026-W47: 2026-11-16 to 2026-11-22 (America/New_York)');
    expect(table.stdout).toMatch(
      new RegExp(
        `${first!.label}\\s+3\\s+3h\\s+5h\\s+3\\s+1\\s+33\\.3%\\s+100\\.0%\\s+0\\.0%\\s+0\\.0%\\s+0\\s+-\\s+-\\s+0\\s+0\\s+capacity:1`,
      ),
    );
    // No deal or owner ids in the human view.
    expect(table.stdout).not.toContain('61230455');
  });

  it('--zone UTC cuts the week differently; --playbook FILE replaces the stored playbook', async () => {
    const utc = await runCaptured(
      ['scorecard', '--week', '2026-W47', '--format', 'json', '--zone', 'UTC'],
      env,
    );
    const card = Scorecard.parse(JSON.parse(utc.stdout));
    // Deal 4 (Monday 03:00 UTC) is week 48 in UTC; deal 5 (Monday 04:59 UTC) moves in.
    expect(card.timeZone).toBe('UTC');
    expect(card.totals.volume).toBe(4);
    // First stage: deals 1, 2 and 5 (1h, 3h, 2h) instead of 1, 2 and 4 (1h, 3h, 5h).
    expect(card.byStage[0]).toMatchObject({ volume: 3, medianTimeInStageMs: 2 * H, p90TimeInStageMs: 3 * H });
    const other = await runCaptured(
      ['scorecard', '--week', '2026-W47', '--format', 'json', '--playbook', examplePlaybookPath('fivePhase')],
      env,
    );
    expect(other.code).toBe(0);
    // The telehealth stages are not in that playbook: listed under their ids, visits still counted.
    const otherCard = Scorecard.parse(JSON.parse(other.stdout));
    expect(otherCard.byStage[0]!.stage).toEqual({ id: first!.id, label: first!.id });
    expect(otherCard.totals.volume).toBeGreaterThan(0);
  });

  it('an empty week prints the empty state; the default week is the current one (so far)', async () => {
    const empty = await runCaptured(['scorecard', '--week', '2026-W40'], env);
    expect(empty).toMatchObject({ code: 0, stderr: '' });
    expect(empty.stdout).toContain('No stage visits ended in this week and no deal is in a stage.');
    // A fresh install (or the sandbox demo) has this week's data only: the default must show it.
    const dflt = await runCaptured(
      ['scorecard', '--format', 'json'],
      env,
      {},
      Date.parse('2026-11-20T12:00:00Z'),
    );
    expect(JSON.parse(dflt.stdout).week).toBe('2026-W47');
    expect(JSON.parse(dflt.stdout).totals.volume).toBe(4);
    // Sunday 23:00 in New York is Monday in UTC: still the zone's week 47.
    const lateSunday = await runCaptured(
      ['scorecard', '--format', 'json'],
      env,
      {},
      Date.parse('2026-11-23T04:00:00Z'),
    );
    expect(JSON.parse(lateSunday.stdout).week).toBe('2026-W47');
  });

  it('--cycle prints the time from one stage to another, with starts read from earlier weeks', async () => {
    const keys = redisKeys(prefix);
    await new HistoryStore(redis, keys, silentLogger).append(PORTAL, [
      // Entered the first stage in week 46, reached the third in week 47: 3 days.
      row({ dealId: 'c1', enteredAt: w47.start - 24 * H, exitedAt: w47.start - 20 * H }),
      row({
        dealId: 'c1',
        stage: third!.id,
        ownerRole: third!.ownerRole,
        enteredAt: w47.start + 48 * H,
        exitedAt: w47.start + 50 * H,
      }),
    ]);
    const r = await runCaptured(
      ['scorecard', '--week', '2026-W47', '--cycle', `${first!.id}:${third!.id}`],
      env,
    );
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toContain(
      `Cycle time ${first!.label} -> ${third!.label}: 1 deal(s), median 72h, p90 72h (wall time)`,
    );
    const bad = await runCaptured(['scorecard', '--week', '2026-W47', '--cycle', 'nocolon'], env);
    expect(bad.code).toBe(1);
  });

  it('a portal without a playbook is a one-line error', async () => {
    const r = await runCaptured(['scorecard', '--week', '2026-W47', '--portal', '999'], env);
    expect(r).toEqual({
      code: 1,
      stdout: '',
      stderr: 'error: no playbook stored for portal 999; pass --playbook FILE\n',
    });
  });

  it("without KEY_PREFIX it finds the sandbox's data (npm start writes under sk-sandbox) and says so", async () => {
    // Sandbox-shaped prefixes of our own: the default and the sandbox prefix are passed in as the CLI would
    // derive them, so the test never reads or writes the real `sk` / `sk-sandbox` keys.
    const defaults = { keyPrefix: `${prefix}-none`, sandboxPrefix: prefix };
    const r = await runCaptured(
      ['scorecard', '--week', '2026-W47', '--format', 'json'],
      { REDIS_URL: env.REDIS_URL },
      { prefixes: defaults },
    );
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(
      `note: no portal under KEY_PREFIX=${prefix}-none; reading the sandbox's data (KEY_PREFIX=${prefix})\n`,
    );
    // The same scorecard as reading that prefix by name (other tests in this file add rows to it).
    const named = await runCaptured(['scorecard', '--week', '2026-W47', '--format', 'json'], {
      REDIS_URL: env.REDIS_URL,
      KEY_PREFIX: prefix,
    });
    const card = Scorecard.parse(JSON.parse(r.stdout));
    expect(card.totals.volume).toBeGreaterThan(0);
    expect(card).toEqual(Scorecard.parse(JSON.parse(named.stdout)));
  });

  it("no data under the prefix nor the sandbox's: the error names REDIS_URL, KEY_PREFIX and the fix", async () => {
    const defaults = { keyPrefix: `${prefix}-none`, sandboxPrefix: `${prefix}-nosb` };
    const r = await runCaptured(['scorecard'], { REDIS_URL: env.REDIS_URL }, { prefixes: defaults });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `error: no portal has a stored playbook under KEY_PREFIX=${prefix}-none (nor ${prefix}-nosb, the sandbox's) in the Redis at ` +
        "127.0.0.1:6379 (REDIS_URL): point REDIS_URL and KEY_PREFIX at the service's Redis (npm start prints the command for its " +
        'sandbox), or publish a playbook (playbook publish FILE --portal ID)\n',
    );
  });

  it("--month: the monthly review over the whole local month, with 003's intake funnel of the telehealth playbook", async () => {
    // A prefix of its own, so the rows other tests add to week 47 do not change these counts.
    const own = `${prefix}-m`;
    const keys = redisKeys(own);
    await new PlaybookStore(redis, keys, silentLogger).save(PORTAL, playbook);
    await new HistoryStore(redis, keys, silentLogger).append(PORTAL, [
      row({ dealId: 'm1', exitedAt: w47.start + 10 * H }),
      row({ dealId: 'm2', exitedAt: w47.start - 1 }), // week 46, November
      row({ dealId: 'm3', exitedAt: w47.end }), // week 48, November
      row({ dealId: 'm4', exitedAt: weekRange('2026-W44', zone).start + 10 * H }), // Monday 26 October: not November
      row({
        dealId: 'm5',
        exitedAt: w47.start + 11 * H,
        stage: second!.id,
        ownerRole: second!.ownerRole,
        toStage: third!.id,
      }),
    ]);
    const monthEnv = { ...env, KEY_PREFIX: own };
    const r = await runCaptured(
      ['scorecard', '--month', '2026-11', '--format', 'json', '--portal', PORTAL],
      monthEnv,
    );
    const card = Scorecard.parse(JSON.parse(r.stdout));
    expect(card).toMatchObject({
      week: '2026-11',
      period: 'month',
      weekStart: '2026-11-01',
      weekEnd: '2026-11-30',
      timeZone: zone,
    });
    // The rows just outside week 47 are inside November.
    expect(card.byStage.map((s) => [s.stage.id, s.volume])).toEqual([
      [first!.id, 3],
      [second!.id, 1],
    ]);
    // New Lead is the received stage: all three left it forward to Contact Attempted (first touch) after 2 h.
    expect(card.funnel).toMatchObject({
      received: 3,
      contacted: 3,
      contactRate: 1,
      firstTouchMedianMs: 2 * H,
      appointmentsBooked: 0,
    });
    const table = await runCaptured(['scorecard', '--month', '2026-11', '--portal', PORTAL], monthEnv);
    expect(table.stdout).toContain('Scorecard month 2026-11: 2026-11-01 to 2026-11-30');
    expect(table.stdout).toMatch(/Contact rate\s+100\.0%/);
    const both = await runCaptured(
      ['scorecard', '--month', '2026-11', '--week', '2026-W47', '--portal', PORTAL],
      monthEnv,
    );
    expect(both.code).toBe(1);
    expect(both.stderr).toContain('pass --week or --month, not both');
    const bad = await runCaptured(['scorecard', '--month', '2026-13', '--portal', PORTAL], monthEnv);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('invalid month "2026-13"');
    const ownKeys = await redis.keys(`${own}:*`);
    if (ownKeys.length) await redis.del(...ownKeys);
  });
});
