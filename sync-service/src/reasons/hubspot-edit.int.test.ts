import { onTimer, P, reconcile, timerId, type DealState } from '@stagekeeper/shared';
import { fixtureInput, HOUR, MON_10, snap } from '@stagekeeper/shared/engine/fixtures';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { DealHistoryReader } from '../api/breach-history';
import { PortalGateway } from '../api/test-harness';
import { silentLogger } from '../log';
import { DealLock } from '../state/deal-lock';
import { DealStateStore } from '../state/deal-state-store';
import { HistoryStore } from '../state/history-store';
import { redisKeys } from '../state/keys';
import { PlaybookStore } from '../state/playbook-store';
import { RedisReasonAuditLog } from '../state/reason-audit-store';
import { deletePrefix, testPrefix, testRedis } from '../testing/fakes';
import { hubspotReasonEdits } from './hubspot-edit';

// A worker writes a breach's reason to HubSpot before it saves the deal's state (settle.ts: state last). The echo
// of that write names no user, but a person's edit read in that window would see HubSpot's new value against the
// state's old one and take Stagekeeper's own write for the person's reason. The handler runs under the deal's
// lock, as the workers do, so it reads only after the save.
const PORTAL = '1111111';
const DEAL = '501';
const DUE = MON_10 + 2 * HOUR;

let redis: Redis;
let prefix: string;
let gateway: PortalGateway;
let states: DealStateStore;
let audit: RedisReasonAuditLog;
let lock: DealLock;
let playbooks: PlaybookStore;
let deps: Parameters<typeof hubspotReasonEdits>[0];

beforeAll(() => {
  redis = testRedis();
});
beforeEach(() => {
  prefix = testPrefix();
  const keys = redisKeys(prefix);
  gateway = new PortalGateway();
  states = new DealStateStore(redis, keys, silentLogger);
  audit = new RedisReasonAuditLog(redis, prefix);
  lock = new DealLock(redis, keys, { pollMs: 5 });
  playbooks = new PlaybookStore(redis, keys, silentLogger);
  deps = {
    gateway,
    states,
    playbooks,
    history: new DealHistoryReader(new HistoryStore(redis, keys, silentLogger)),
    audit,
    lock,
    log: silentLogger,
    clock: () => DUE + HOUR,
  };
});
afterEach(async () => {
  await deletePrefix(redis, prefix);
});
afterAll(async () => {
  await redis.quit();
});

/** The deal breached in its current visit, its reason inferred and written back; saved and in HubSpot. */
async function breached(): Promise<DealState> {
  const { playbook } = await playbooks.save(PORTAL, fixtureInput());
  let state = reconcile({ playbook, state: null, snapshot: snap({ dealId: DEAL }), now: MON_10 }).state!;
  const entryId = state.current!.entryId;
  const timer = { timerId: timerId(entryId, 'breach'), kind: 'breach' as const, entryId };
  state = onTimer({ playbook, state, snapshot: snap({ dealId: DEAL }), timer, now: DUE }).state!;
  expect(await states.save(PORTAL, DEAL, 0, state)).toBe(true);
  gateway.put(PORTAL, snap({ dealId: DEAL, properties: { [P.breachReason]: state.current!.breachReason! } }));
  return state;
}

/**
 * A worker's decision that changes the breach's reason, cut where the edit's handler must not look: its HubSpot
 * write done, its state not yet saved. Returns once it is there, and `finish` saves and lets go of the lock.
 */
async function workerMidDecision(state: DealState, reason: 'capacity' | 'handoff') {
  let finish!: () => void;
  let paused!: () => void;
  const atPause = new Promise<void>((r) => (paused = r));
  const done = lock.withLock(PORTAL, DEAL, async (version) => {
    gateway.put(PORTAL, snap({ dealId: DEAL, properties: { [P.breachReason]: reason } }));
    paused();
    await new Promise<void>((r) => (finish = r));
    const next = structuredClone(state);
    next.current!.breachReason = reason;
    return states.save(PORTAL, DEAL, version, next);
  });
  await atPause;
  return { finish: () => finish(), done };
}

const edit = { portalId: PORTAL, dealId: DEAL, userId: '45678', at: DUE + HOUR };
const other = (s: DealState) => (s.current!.breachReason === 'capacity' ? 'handoff' : 'capacity');

it("under the deal's lock, a worker's own write between its HubSpot call and its save is not a person's edit", async () => {
  const state = await breached();
  const worker = await workerMidDecision(state, other(state));
  let asked = false;
  const taking = hubspotReasonEdits({
    ...deps,
    lock: { withLock: (p, d, fn) => ((asked = true), lock.withLock(p, d, fn)) },
  })(edit);
  // It waits for the worker: nothing read from HubSpot while the worker holds the deal.
  await expect.poll(() => asked).toBe(true);
  await new Promise((r) => setTimeout(r, 50));
  expect(gateway.snapshotCalls).toEqual([]);
  // Once the worker has saved, HubSpot and Stagekeeper agree: nothing to take.
  worker.finish();
  expect(await worker.done).toBe(true);
  expect(await taking).toBe('unchanged');
  const saved = (await states.load(PORTAL, DEAL)).state!;
  expect([saved.current!.breachReason, saved.current!.breachReasonSource]).toEqual([
    other(state),
    'inferred',
  ]);
  expect(await audit.recent(PORTAL)).toEqual([]);
});

it('without the lock the same moment is misread (why the lock is there)', async () => {
  const state = await breached();
  const worker = await workerMidDecision(state, other(state));
  // A lock that holds nothing (the handler never reads the state version it hands over).
  const noLock: typeof deps.lock = { withLock: (_portalId, _dealId, fn) => fn(0) };
  expect(await hubspotReasonEdits({ ...deps, lock: noLock })(edit)).toBe('applied');
  // The user named is credited with Stagekeeper's inference, and the worker's own save then loses.
  expect((await audit.recent(PORTAL))[0]).toMatchObject({ userId: '45678', reason: other(state) });
  worker.finish();
  expect(await worker.done).toBe(false);
});
