import { loadExamplePlaybook, onTimer, reconcile, timerId, type HistoryRow } from '@stagekeeper/shared';
import { fixtureInput, HOUR, snap } from '@stagekeeper/shared/engine/fixtures';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { silentLogger } from '../log';
import { DealStateStore } from '../state/deal-state-store';
import { HistoryStore } from '../state/history-store';
import { redisKeys } from '../state/keys';
import { PlaybookStore } from '../state/playbook-store';
import { deletePrefix, testPrefix, testRedis } from '../testing/fakes';
import { apiApp, hubspotQuery, PortalGateway, signedHeaders } from './test-harness';

const A = '1111111';
const B = '2222222';
const C = '3333333';
/** Tuesday of 2026-W48; the latest complete week is W47 (Nov 16-22, America/New_York). */
const NOW = Date.parse('2026-11-24T15:00:00.000Z');

let redis: Redis;
let prefix: string;
let app: ReturnType<typeof apiApp>['app'];

beforeAll(() => {
  redis = testRedis();
});
beforeEach(async () => {
  prefix = testPrefix();
  app = apiApp({ redis, prefix, gateway: new PortalGateway(), now: () => NOW }).app;
  const keys = redisKeys(prefix);
  const playbooks = new PlaybookStore(redis, keys, silentLogger);
  await playbooks.save(A, fixtureInput());
  await playbooks.save(B, fixtureInput());
  const history = new HistoryStore(redis, keys, silentLogger);
  await history.append(A, [
    row('1', '2026-11-18T12:00:00-05:00', { slaOutcome: 'breached', breachReason: 'capacity' }),
    row('2', '2026-11-18T13:00:00-05:00'),
    // Sunday night local is already Monday in UTC: stored in the next UTC week, still part of local W47.
    row('3', '2026-11-22T23:30:00-05:00', { direction: 'backward', toStage: 'lead' }),
  ]);
  await history.append(
    B,
    Array.from({ length: 5 }, (_, i) => row(`b${i}`, '2026-11-19T12:00:00-05:00')),
  );
});
afterEach(async () => {
  await deletePrefix(redis, prefix);
});
afterAll(async () => {
  await redis.quit();
});

function row(dealId: string, exitedAt: string, over: Partial<HistoryRow> = {}): HistoryRow {
  const exit = Date.parse(exitedAt);
  return {
    dealId,
    pipeline: 'tele',
    stage: 'lead',
    ownerRole: 'intake',
    ownerId: '101',
    enteredAt: exit - 2 * HOUR,
    exitedAt: exit,
    businessMs: HOUR,
    toStage: 'intake',
    direction: 'forward',
    slaOutcome: 'met',
    breachReason: null,
    ...over,
  };
}

const scorecard = (portal: string, week?: string) => {
  const path = `/api/scorecard?${week ? `week=${week}&` : ''}${hubspotQuery(portal)}`;
  return request(app)
    .get(path)
    .set(signedHeaders('GET', path, '', NOW));
};

describe('GET /api/scorecard', () => {
  it('defaults to the latest complete week in the first calendar’s zone and counts only the signed portal', async () => {
    const res = await scorecard(A);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      week: '2026-W47',
      weekStart: '2026-11-16',
      weekEnd: '2026-11-22',
      timeZone: 'America/New_York',
    });
    const lead = res.body.byStage.find((r: { stage: { id: string } }) => r.stage.id === 'lead');
    expect(lead).toMatchObject({
      pipeline: { id: 'tele', label: 'Telehealth' },
      volume: 3,
      slaVisits: 3,
      breached: 1,
      topBreachReasons: [{ reason: 'capacity', count: 1 }],
    });
    expect(lead.backflowRate).toBeCloseTo(1 / 3);
    expect(res.body.availableWeeks).toContain('2026-W47');
    expect([...res.body.availableWeeks].sort().reverse()).toEqual(res.body.availableWeeks);

    const other = await scorecard(B, '2026-W47');
    expect(other.body.byStage.find((r: { stage: { id: string } }) => r.stage.id === 'lead').volume).toBe(5);
  });

  it('month=YYYY-MM is the monthly review: the whole local month, months listed for the picker', async () => {
    await new HistoryStore(redis, redisKeys(prefix), silentLogger).append(A, [
      row('4', '2026-11-03T12:00:00-05:00'),
      row('5', '2026-10-30T12:00:00-04:00'),
    ]);
    const get = (query: string) => {
      const path = `/api/scorecard?${query}&${hubspotQuery(A)}`;
      return request(app)
        .get(path)
        .set(signedHeaders('GET', path, '', NOW));
    };
    const res = await get('month=2026-11');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      week: '2026-11',
      period: 'month',
      weekStart: '2026-11-01',
      weekEnd: '2026-11-30',
      timeZone: 'America/New_York',
    });
    // W45's row and W47's three: October's is not November's.
    expect(res.body.byStage.find((r: { stage: { id: string } }) => r.stage.id === 'lead').volume).toBe(4);
    expect(res.body.availableMonths).toEqual(['2026-11', '2026-10']);
    const october = await get('month=2026-10');
    expect(october.body.byStage.find((r: { stage: { id: string } }) => r.stage.id === 'lead').volume).toBe(1);
    // format=csv: the CLI's CSV, in JSON for hubspot.fetch (the app home shows it to copy).
    const csv = await get('month=2026-11&format=csv');
    expect(csv.status).toBe(200);
    expect(csv.body.filename).toBe('stagekeeper-scorecard-2026-11.csv');
    const lines = (csv.body.csv as string).split('\r\n');
    expect(lines[0]).toMatch(/^week,scope,pipeline_id,/);
    expect(lines.find((l) => l.startsWith('2026-11,stage,tele,Telehealth,lead,'))).toMatch(
      /^2026-11,stage,tele,Telehealth,lead,[^,]*,,,4,/,
    );
    for (const bad of [
      'month=2026-13',
      'month=2026-11&week=2026-W47',
      'month=2026-11&month=2026-10',
      'format=xml',
    ]) {
      const r = await get(bad);
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe('invalid_request');
    }
  });

  it('seed 004 re-referral: reads referrals past the asked week, so a partner referring again the next week counts', async () => {
    const D = '4444444';
    const keys = redisKeys(prefix);
    const referrals = loadExamplePlaybook('referrals');
    await new PlaybookStore(redis, keys, silentLogger).save(D, referrals);
    const received = referrals.scorecard!.funnel!.received;
    const referral = (dealId: string, at: string) =>
      row(dealId, at, {
        pipeline: referrals.pipelines[0]!.id,
        stage: received,
        ownerRole: 'referrals_coordinator',
        toStage: '1290330103',
        dims: { referrer_ods_code: 'A81001' },
      });
    // W46 (London): a referral from A81001, then another from A81001 eight days later, in W47.
    await new HistoryStore(redis, keys, silentLogger).append(D, [
      referral('r1', '2026-11-10T10:00:00Z'),
      referral('r2', '2026-11-18T10:00:00Z'),
    ]);
    const path = `/api/scorecard?week=2026-W46&${hubspotQuery(D)}`;
    const res = await request(app)
      .get(path)
      .set(signedHeaders('GET', path, '', NOW));
    expect(res.status).toBe(200);
    expect(res.body.funnel.reReferral).toMatchObject({
      referrals: 1,
      decided: 1,
      reReferred: 1,
      rate: 1,
      partners: 1,
      partnersReferringAgain: 1,
    });
    // The week's own metrics still count only the week: r2's first touch is W47's.
    expect(res.body.funnel).toMatchObject({ received: 1, contacted: 1, incomplete: 0 });
  });

  it('an explicit week with nothing in it is empty', async () => {
    const res = await scorecard(A, '2026-W40');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ week: '2026-W40', byStage: [], byRole: [] });
  });

  it('400 invalid_request for a malformed or impossible week', async () => {
    for (const week of ['2026-47', '2025-W53']) {
      const res = await scorecard(A, week);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
    }
  });

  it('a portal without a playbook gets an empty week in UTC, none of the others’ data', async () => {
    const res = await scorecard(C, '2026-W47');
    expect(res.body).toEqual({
      week: '2026-W47',
      weekStart: '2026-11-16',
      weekEnd: '2026-11-22',
      timeZone: 'UTC',
      availableWeeks: [],
      availableMonths: [],
      byStage: [],
      byRole: [],
    });
  });
});

describe('GET /api/scorecard: deals still in a stage (seed 000 weekly review: stuck work is not hidden)', () => {
  it('counts a deal sitting breached in its stage in the breach rate, with its age, before it moves', async () => {
    const keys = redisKeys(prefix);
    const playbook = (await new PlaybookStore(redis, keys, silentLogger).current(A))!.playbook;
    const entered = Date.parse('2026-11-23T10:00:00-05:00');
    const live = snap({ dealId: '77', stageEnteredAt: entered, properties: { num_contacted_notes: '0' } });
    let state = reconcile({ playbook, state: null, snapshot: live, now: entered }).state!;
    const entryId = state.current!.entryId;
    state = onTimer({
      playbook,
      state,
      snapshot: live,
      timer: { timerId: timerId(entryId, 'breach'), kind: 'breach', entryId },
      now: state.current!.sla!.dueAt,
    }).state!;
    const states = new DealStateStore(redis, keys, silentLogger);
    expect(await states.save(A, '77', (await states.load(A, '77')).version, state)).toBe(true);

    const res = await scorecard(A, '2026-W48');
    expect(res.status).toBe(200);
    const lead = res.body.byStage.find((r: { stage: { id: string } }) => r.stage.id === 'lead');
    expect(lead).toMatchObject({
      volume: 0,
      inStage: 1,
      openBreached: 1,
      breached: 1,
      slaVisits: 1,
      breachRate: 1,
      maxAgeMs: NOW - entered,
    });
    expect(lead.topBreachReasons).toEqual([{ reason: 'missing_data', count: 1 }]);
  });
});
