import {
  onTimer,
  P,
  reconcile,
  timerId,
  type DealSnapshot,
  type DealState,
  type Playbook,
  type PlaybookInput,
} from '@stagekeeper/shared';
import { fixtureInput, HOUR, MON_10, snap } from '@stagekeeper/shared/engine/fixtures';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { callLane } from '../hubspot/call';
import type { Command, Redis } from 'ioredis';
import { silentLogger } from '../log';
import { DealStateStore } from '../state/deal-state-store';
import { HistoryStore } from '../state/history-store';
import { redisKeys } from '../state/keys';
import { PlaybookStore } from '../state/playbook-store';
import { deletePrefix, testPrefix, testRedis } from '../testing/fakes';
import { RedisReasonAuditLog } from '../state/reason-audit-store';
import { MAX_RESPONSE_BYTES } from './respond';
import { apiApp, hubspotQuery, PortalGateway, signedHeaders } from './test-harness';

const A = '1111111';
const B = '2222222';
const DEAL = '501';
const DUE = MON_10 + 2 * HOUR; // 2 staffed hours on the 9-17 clinic calendar
let now = MON_10;

let redis: Redis;
let prefix: string;
let gateway: PortalGateway;
/** The limiter lane each live read ran in. */
let lanes: (string | undefined)[] = [];
let app: ReturnType<typeof apiApp>['app'];
let states: DealStateStore;
let playbooks: PlaybookStore;

beforeAll(() => {
  redis = testRedis();
});
beforeEach(() => {
  prefix = testPrefix();
  now = MON_10;
  gateway = new PortalGateway();
  lanes = [];
  const read = gateway.snapshots.bind(gateway);
  gateway.snapshots = async (...args) => {
    lanes.push(callLane.getStore());
    return read(...args);
  };
  app = apiApp({ redis, prefix, gateway, now: () => now }).app;
  const keys = redisKeys(prefix);
  states = new DealStateStore(redis, keys, silentLogger);
  playbooks = new PlaybookStore(redis, keys, silentLogger);
});
afterEach(async () => {
  await deletePrefix(redis, prefix);
});
afterAll(async () => {
  await redis.quit();
});

const get = (portal: string, dealId: string) => {
  const path = `/api/card/deal/${dealId}?${hubspotQuery(portal)}`;
  return request(app)
    .get(path)
    .set(signedHeaders('GET', path, '', now));
};
const postReason = (portal: string, dealId: string, body: unknown) => {
  const path = `/api/card/deal/${dealId}/breach-reason?${hubspotQuery(portal)}`;
  const text = JSON.stringify(body);
  return request(app)
    .post(path)
    .set(signedHeaders('POST', path, text, now))
    .send(text);
};

/** A deal as HubSpot shows it in a portal, and the state the real engine stores for it. */
async function seed(
  portal: string,
  live: DealSnapshot,
  edit?: (s: DealState, p: Playbook) => DealState,
): Promise<DealState> {
  const stored = (await playbooks.current(portal)) ?? (await playbooks.save(portal, fixtureInput()));
  let state = reconcile({ playbook: stored.playbook, state: null, snapshot: live, now: MON_10 }).state!;
  if (edit) state = edit(state, stored.playbook);
  const { version } = await states.load(portal, live.dealId);
  expect(await states.save(portal, live.dealId, version, state)).toBe(true);
  gateway.put(portal, live);
  return state;
}

/** The breach timer firing at the due time, as the worker would run it. */
const breach = (s: DealState, playbook: Playbook): DealState => {
  const entryId = s.current!.entryId;
  const timer = { timerId: timerId(entryId, 'breach'), kind: 'breach' as const, entryId };
  return onTimer({ playbook, state: s, snapshot: snap({ dealId: s.dealId }), timer, now: DUE }).state!;
};

describe('GET /api/card/deal/:dealId', () => {
  it('shows the managed deal from stored state with the checklist evaluated on the live read', async () => {
    await seed(A, snap({ dealId: DEAL, properties: { num_contacted_notes: '0' } }));
    now = MON_10 + HOUR;
    gateway.put(A, snap({ dealId: DEAL, properties: { num_contacted_notes: '2' } }));
    const res = await get(A, DEAL);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    expect(res.body).toMatchObject({
      managed: true,
      dealId: DEAL,
      playbookVersion: 1,
      stage: { id: 'lead', label: 'Lead' },
      sla: { status: 'running', elapsedMs: HOUR, remainingMs: HOUR, target: '2h' },
      exitChecklist: [{ label: 'First contact logged', met: true }],
      breachReason: null,
    });
    // The live read asked for what the criteria need plus the latest-breach properties, in the rate limiter's
    // interactive lane: a person is waiting, so it goes ahead of bulk work (issue 13).
    expect(lanes.at(-1)).toBe('interactive');
    const asked = gateway.snapshotCalls.at(-1)!;
    expect(asked.portalId).toBe(A);
    expect(asked.properties).toEqual(
      expect.arrayContaining(['num_contacted_notes', 'waiting_on', P.slaBreachedAt, P.breachReasonSource]),
    );
  });

  it('paused and breached variants', async () => {
    await seed(A, snap({ dealId: DEAL, properties: { waiting_on: 'patient' } }));
    expect((await get(A, DEAL)).body.sla).toMatchObject({
      status: 'paused',
      pauseReason: 'waiting_on is patient',
    });

    await seed(A, snap({ dealId: '502' }), breach);
    now = DUE + HOUR;
    const res = await get(A, '502');
    expect(res.body.sla).toMatchObject({ status: 'breached', remainingMs: -HOUR });
    expect(res.body.breachReason).toMatchObject({ value: 'missing_data', source: 'inferred' });
  });

  it('answers managed:false (200) for unmanaged, unknown and playbook-less deals', async () => {
    expect((await get(A, DEAL)).body).toEqual({
      managed: false,
      dealId: DEAL,
      reason: 'no_playbook',
      pipeline: null,
    });
    await playbooks.save(A, fixtureInput());
    gateway.put(A, snap({ dealId: '600', pipeline: 'default', stage: 'appointmentscheduled' }));
    expect((await get(A, '600')).body).toMatchObject({
      managed: false,
      reason: 'unmanaged_pipeline',
      pipeline: { id: 'default' },
    });
    expect((await get(A, '601')).body).toMatchObject({ managed: false, reason: 'not_found' });
  });

  it('lists breaches of earlier visits from stored history', async () => {
    await seed(A, snap({ dealId: DEAL }));
    const rows = [1, 2].map((i) => ({
      dealId: DEAL,
      pipeline: 'tele',
      stage: 'lead',
      ownerRole: 'intake',
      ownerId: null,
      enteredAt: MON_10 - i * 48 * HOUR,
      exitedAt: MON_10 - i * 48 * HOUR + 5 * HOUR,
      businessMs: 5 * HOUR,
      toStage: 'intake',
      direction: 'forward' as const,
      slaOutcome: 'breached' as const,
      breachReason: 'capacity' as const,
    }));
    const history = new HistoryStore(redis, redisKeys(prefix), silentLogger);
    await history.append(A, rows);
    await history.append(B, [{ ...rows[0]!, enteredAt: MON_10 - HOUR, exitedAt: MON_10 - 1 }]);
    const res = await get(A, DEAL);
    expect(res.body.breaches.map((b: { breachedAt: string }) => b.breachedAt)).toEqual(
      rows.map((r) => new Date(r.exitedAt).toISOString()),
    );
  });

  it('sends its Redis reads together: two rounds, not one per read (issue #18)', async () => {
    // During a bulk move each round waits its turn behind the workers on the event loop, so rounds are latency.
    await seed(A, snap({ dealId: DEAL }));
    await new HistoryStore(redis, redisKeys(prefix), silentLogger).append(A, [
      {
        dealId: DEAL,
        pipeline: 'tele',
        stage: 'lead',
        ownerRole: 'intake',
        ownerId: null,
        enteredAt: MON_10 - 48 * HOUR,
        exitedAt: MON_10 - 43 * HOUR,
        businessMs: 5 * HOUR,
        toStage: 'intake',
        direction: 'forward',
        slaOutcome: 'breached',
        breachReason: 'capacity',
      },
    ]);
    // A command's round: 1 + the highest round among the commands answered before it was sent.
    const counted = redis.duplicate();
    const rounds: number[] = [];
    let answered = 0;
    const send = counted.sendCommand.bind(counted);
    counted.sendCommand = ((command: Command, stream?: unknown) => {
      const round = answered + 1;
      rounds.push(round);
      command.promise.then(
        () => (answered = Math.max(answered, round)),
        () => (answered = Math.max(answered, round)),
      );
      return (send as (c: Command, s?: unknown) => unknown)(command, stream);
    }) as typeof counted.sendCommand;
    try {
      const counting = apiApp({ redis: counted, prefix, gateway, now: () => now }).app;
      const path = `/api/card/deal/${DEAL}?${hubspotQuery(A)}`;
      const read = () =>
        request(counting)
          .get(path)
          .set(signedHeaders('GET', path, '', now));
      // The first read also loads the playbook into the process's cache; the second is a rep's usual read.
      expect((await read()).status).toBe(200);
      rounds.length = 0;
      answered = 0;
      const res = await read();
      expect(res.status).toBe(200);
      expect(res.body.breaches).toHaveLength(1);
      expect(rounds.length).toBeGreaterThanOrEqual(4);
      expect(Math.max(...rounds)).toBeLessThanOrEqual(2);
    } finally {
      counted.disconnect();
    }
  });

  it('reads HubSpot with the properties of the playbook in force, also right after it changed', async () => {
    // The live read starts with the playbook this process last saw, beside the Redis reads (issue #18); a newer
    // version found by then means a read with its properties.
    await seed(A, snap({ dealId: DEAL }));
    expect((await get(A, DEAL)).status).toBe(200);
    expect(gateway.snapshotCalls.at(-1)!.properties).not.toContain('insurance_checked');
    const input = fixtureInput();
    const lead = input.pipelines[0]!.stages.find((st) => st.id === 'lead')!;
    lead.exitCriteria = [
      ...(lead.exitCriteria ?? []),
      { op: 'equals', property: 'insurance_checked', value: 'yes', label: 'Insurance checked' },
    ];
    await playbooks.save(A, input);
    const before = gateway.snapshotCalls.length;
    const res = await get(A, DEAL);
    expect(res.status).toBe(200);
    expect(gateway.snapshotCalls.at(-1)!.properties).toContain('insurance_checked');
    expect(res.body.exitChecklist).toEqual(
      expect.arrayContaining([expect.objectContaining({ label: 'Insurance checked' })]),
    );
    // The read with the old properties was spent; the card is built on the new one.
    expect(gateway.snapshotCalls.length - before).toBe(2);
    // From then on one read per card.
    await get(A, DEAL);
    expect(gateway.snapshotCalls.length - before).toBe(3);
  });

  it('rejects a deal id that is not a HubSpot id', async () => {
    const res = await get(A, 'abc');
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
  });

  it('keeps the response under 1 MB even for a stage with thousands of long criteria', async () => {
    const input: PlaybookInput = fixtureInput();
    input.pipelines[0]!.stages[0]!.exitCriteria = Array.from({ length: 3000 }, (_, i) => ({
      op: 'present' as const,
      property: `prop_${i}`,
      label: `${'long label '.repeat(40)}${i}`,
    }));
    await playbooks.save(A, input);
    await seed(A, snap({ dealId: DEAL }));
    const res = await get(A, DEAL);
    expect(res.status).toBe(200);
    expect(Buffer.byteLength(res.text)).toBeLessThanOrEqual(MAX_RESPONSE_BYTES);
    expect(res.body.managed).toBe(true);
    expect(res.body.exitChecklist.length).toBeGreaterThan(0);
    expect(res.body.exitChecklist.length).toBeLessThan(3000);
  });
});

describe('portal isolation', () => {
  it('the same deal id in two portals reads only the signed portal’s state and HubSpot data', async () => {
    await seed(A, snap({ dealId: DEAL, stage: 'lead' }));
    await seed(B, snap({ dealId: DEAL, stage: 'intake', properties: { insurance_id: 'x' } }));
    expect((await get(A, DEAL)).body.stage.id).toBe('lead');
    expect((await get(B, DEAL)).body.stage.id).toBe('intake');
    expect(gateway.snapshotCalls.map((c) => c.portalId)).toEqual([A, B]);
  });

  it('a deal that exists only in portal B is not found from portal A, for GET and POST', async () => {
    await playbooks.save(A, fixtureInput());
    await seed(B, snap({ dealId: '777' }), breach);
    expect((await get(A, '777')).body).toMatchObject({ managed: false, reason: 'not_found' });
    const res = await postReason(A, '777', { reason: 'capacity' });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
    expect(gateway.applied).toEqual([]);
    expect((await states.load(B, '777')).state!.current!.breachReasonSource).toBe('inferred');
  });
});

describe('POST /api/card/deal/:dealId/breach-reason', () => {
  it('writes the manual reason to HubSpot, stores it, records who, and answers the updated card', async () => {
    await seed(A, snap({ dealId: DEAL }), breach);
    now = DUE + HOUR;
    const res = await postReason(A, DEAL, { reason: 'capacity' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ managed: true, breachReason: { value: 'capacity', source: 'manual' } });
    expect(res.body.breaches[0]).toMatchObject({ reason: 'capacity', source: 'manual' });

    expect(gateway.applied).toEqual([
      {
        portalId: A,
        dealId: DEAL,
        commands: [
          {
            type: 'setProperties',
            properties: { [P.breachReason]: 'capacity', [P.breachReasonSource]: 'manual' },
          },
        ],
      },
    ]);
    const stored = (await states.load(A, DEAL)).state!.current!;
    expect([stored.breachReason, stored.breachReasonSource]).toEqual(['capacity', 'manual']);
    const audit = await new RedisReasonAuditLog(redis, prefix).recent(A);
    expect(audit).toEqual([
      {
        at: now,
        dealId: DEAL,
        entryId: stored.entryId,
        reason: 'capacity',
        from: 'missing_data',
        userId: '77',
        userEmail: 'rep@clinic.example',
      },
    ]);
  });

  it('corrects a breach of an earlier visit from the breach history: row rewritten, audited from -> to, counted', async () => {
    const state = await seed(A, snap({ dealId: DEAL }), (s) => ({
      ...s,
      lastBreachEntryId: `${DEAL}:lead:${MON_10 - 48 * HOUR}`,
    }));
    const past = {
      dealId: DEAL,
      pipeline: 'tele',
      stage: 'lead',
      ownerRole: 'intake',
      ownerId: '101',
      enteredAt: MON_10 - 48 * HOUR,
      exitedAt: MON_10 - 43 * HOUR,
      businessMs: 5 * HOUR,
      toStage: 'intake',
      direction: 'forward' as const,
      slaOutcome: 'breached' as const,
      breachReason: 'handoff' as const,
      breachReasonSource: 'inferred' as const,
      breachEvidence: ['owner changed 1 time(s) during the visit'],
    };
    const history = new HistoryStore(redis, redisKeys(prefix), silentLogger);
    await history.append(A, [past]);
    const entryId = `${DEAL}:lead:${past.enteredAt}`;
    now = MON_10 + HOUR;
    const res = await postReason(A, DEAL, { reason: 'capacity', entryId });
    expect(res.status).toBe(200);
    expect(res.body.breaches[0]).toMatchObject({
      entryId,
      reason: 'capacity',
      source: 'manual',
      corrected: true,
      evidence: past.breachEvidence,
    });
    const [row] = await history.readWeek(A, past.exitedAt);
    expect(row).toMatchObject({
      breachReason: 'capacity',
      breachReasonSource: 'manual',
      inferredReason: 'handoff',
      corrections: [{ at: now, userId: '77', from: 'handoff', to: 'capacity' }],
    });
    // It was the deal's latest breach, so HubSpot's reason property follows.
    expect(gateway.applied).toEqual([
      {
        portalId: A,
        dealId: DEAL,
        commands: [
          {
            type: 'setProperties',
            properties: { [P.breachReason]: 'capacity', [P.breachReasonSource]: 'manual' },
          },
        ],
      },
    ]);
    const audit = await new RedisReasonAuditLog(redis, prefix).recent(A);
    expect(audit).toEqual([
      {
        at: now,
        dealId: DEAL,
        entryId,
        reason: 'capacity',
        from: 'handoff',
        past: true,
        userId: '77',
        userEmail: 'rep@clinic.example',
      },
    ]);
    // The current visit is untouched.
    expect((await states.load(A, DEAL)).state!.current).toEqual(state.current);
    // A visit of another deal, or one without a breach, cannot be named.
    expect(
      (await postReason(A, DEAL, { reason: 'other', entryId: `999:lead:${past.enteredAt}` })).status,
    ).toBe(400);
    expect(
      (await postReason(A, DEAL, { reason: 'other', entryId: `${DEAL}:lead:${MON_10 - 96 * HOUR}` })).body
        .error.code,
    ).toBe('no_breach');
  });

  it('refuses an unknown reason (400) and a visit that has not breached (409 no_breach)', async () => {
    await seed(A, snap({ dealId: DEAL }));
    const bad = await postReason(A, DEAL, { reason: 'lazy' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('invalid_request');
    const running = await postReason(A, DEAL, { reason: 'capacity' });
    expect(running.status).toBe(409);
    expect(running.body.error.code).toBe('no_breach');
    expect(gateway.applied).toEqual([]);
  });

  it('404 for a deal the portal has never stored', async () => {
    await playbooks.save(A, fixtureInput());
    const res = await postReason(A, '999', { reason: 'other' });
    expect(res.status).toBe(404);
  });
});
