import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { TELEHEALTH } from '@stagekeeper/sync-service/demo/playbook';
import { CLAIM_SCRIPT_SHA } from '@stagekeeper/sync-service/queue/timer-poller';
import { redisKeys } from '@stagekeeper/sync-service/state/keys';
import { REDIS_URL, startE2E, type E2E } from './harness';

const S = TELEHEALTH.stages;
const REP = '52841907';

/**
 * Issue #18 asks for at most 60 Redis commands per transition. Counted here: every command a client sends on
 * this test's keys (a script call counts once; what a script runs inside Redis is reported, not bounded, since
 * BullMQ's job lifecycle alone runs about a hundred). Before the timer commands were batched one transition sent
 * 74 (31 on timer jobs: BullMQ's remove script for four ids per timer, two of them legacy shapes; 686 inside
 * scripts); then 44 (5; 289); with timers in the due index instead of BullMQ jobs, 35 (1; 212). The bound is the
 * issue's; per-id removals coming back would break it on their own.
 * The reconcile request's own path is bounded with what runs inside scripts, since that is where its cost was: as
 * a BullMQ job (add, promote, take, finish) ~81 commands ran inside BullMQ's scripts; in the due set it is a ZADD,
 * its share of a claim and an ack.
 */
const MAX_COMMANDS = 60;
const MAX_TIMER_COMMANDS = 10;
const MAX_RECONCILE_COMMANDS = 12;

let e: E2E;
let waiter: Redis;
beforeAll(async () => {
  e = await startE2E();
  waiter = new Redis(REDIS_URL);
});
afterAll(async () => {
  await waiter?.quit();
  await e?.close();
});

type Seen = { source: string; args: string[] };

/** MONITOR on a raw socket (its replies are one status line per command), kept to lines naming `needle`. */
function monitor(needle: string): { seen: Seen[]; stop(): void; ready: Promise<void> } {
  const seen: Seen[] = [];
  const socket: Socket = connect(Number(new URL(REDIS_URL).port || 6379), new URL(REDIS_URL).hostname);
  let buf = '';
  const ready = new Promise<void>((resolve) => {
    socket.on('data', (d) => {
      buf += d.toString('utf8');
      const lines = buf.split('\r\n');
      buf = lines.pop()!;
      for (const line of lines) {
        if (line === '+OK') resolve();
        if (!line.includes(needle)) continue;
        const m = /^\+[\d.]+ \[\d+ ([^\]]+)\] (.*)$/.exec(line);
        if (m)
          seen.push({ source: m[1]!, args: [...m[2]!.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((x) => x[1]!) });
      }
    });
  });
  socket.write('MONITOR\r\n');
  return { seen, ready, stop: () => socket.destroy() };
}

describe('Redis commands per transition', () => {
  it(`a stage move through the whole stack sends at most ${MAX_COMMANDS} commands`, async () => {
    const id = e.portal.ui.createDeal(
      { dealname: 'Intake', pipeline: TELEHEALTH.pipeline, dealstage: S.newLead, hubspot_owner_id: REP },
      { userId: Number(REP) },
    ).id;
    await e.settle();
    const portalId = e.portal.portalId;
    const keys = redisKeys(e.prefix);
    const stateKey = keys.dealState(String(portalId), id);
    const bull = keys.bullPrefix();
    // The state's version leads its record (`<version>:<body>`, deal-state-codec.ts).
    const before = parseInt(await waiter.getrange(stateKey, 0, 16), 10);
    const waiterAddr = String(await waiter.client('INFO')).match(/ addr=(\S+)/)![1]!;
    const mon = monitor(e.prefix);
    await mon.ready;

    e.portal.ui.logContactAttempt(id, { userId: Number(REP) });
    e.portal.ui.moveDeal(id, S.contactAttempted, { userId: Number(REP) });
    // Waits on its own connection (left out of the count) until the move is decided and no job is left.
    const deadline = Date.now() + 30_000;
    for (let quiet = 0; quiet < 3;) {
      if (Date.now() > deadline) throw new Error('transition did not settle');
      await e.portal.webhooks.drain();
      const pipe = waiter.pipeline().getrange(stateKey, 0, 16);
      for (const q of ['ingest', 'reconcile'])
        pipe.llen(`${bull}:${q}:wait`).llen(`${bull}:${q}:active`).zcard(`${bull}:${q}:delayed`);
      pipe.zcard(keys.reconcileDue());
      const r = (await pipe.exec())!.map(([, v]) => parseInt(String(v), 10));
      quiet = r[0]! > before && r.slice(1).every((n) => n === 0) ? quiet + 1 : 0;
      await new Promise((res) => setTimeout(res, 50));
    }
    mon.stop();

    expect(e.props(id).dealstage).toBe(S.contactAttempted);
    const all = mon.seen.filter((c) => c.source !== 'lua' && c.source !== waiterAddr);
    // Paced by the clock, not by the transition: a worker's blocking wait for work (BZPOPMIN, again after its
    // timeout), the data-loss guard's marker check every 2 s and the timer poller's claim every 200 ms (no timer
    // falls due here: the clock stands still). Counted apart, so a slow run cannot fail the bound.
    const timed = (c: Seen) =>
      c.args[0]!.toLowerCase() === 'bzpopmin' ||
      (c.args[0]!.toLowerCase() === 'get' && c.args[1] === keys.seeded()) ||
      (c.args[0]!.toLowerCase() === 'evalsha' && c.args[1] === CLAIM_SCRIPT_SHA);
    const sent = all.filter((c) => !timed(c));
    const timerCommands = sent.filter((c) =>
      c.args.some((a) => a === keys.timersDue() || a.startsWith(`${bull}:timers:`)),
    );
    const inner = mon.seen.filter((c) => c.source === 'lua').length;
    // The reconcile request's path, sent and inside scripts: not the pollers' reads of the due set (every 200 ms).
    const onReconcile = (c: Seen) =>
      c.args.some(
        (a) => a === keys.reconcileDue() || a === keys.reconcileMeta() || a.startsWith(`${bull}:reconcile:`),
      );
    const reconcilePath = [...sent, ...mon.seen.filter((c) => c.source === 'lua')].filter(
      (c) => onReconcile(c) && c.args[0]!.toLowerCase() !== 'zrangebyscore',
    );
    console.log(
      `one transition: ${sent.length} commands sent (${timerCommands.length} on timer jobs) and ${all.length - sent.length} ` +
        `paced by the clock; ${inner} run inside scripts; the reconcile request's path ${reconcilePath.length}`,
    );
    const reconcileListing = reconcilePath
      .map((c) => `${c.source === 'lua' ? 'lua ' : ''}${c.args[0]}`)
      .join('\n');
    expect(reconcilePath.length, reconcileListing).toBeGreaterThan(0);
    expect(reconcilePath.length, reconcileListing).toBeLessThanOrEqual(MAX_RECONCILE_COMMANDS);
    expect(timerCommands.length).toBeGreaterThan(0);
    expect(timerCommands.length).toBeLessThanOrEqual(MAX_TIMER_COMMANDS);
    const listing = sent.map((c) => c.args.slice(0, 2).join(' ').replace(e.prefix, '')).join('\n');
    expect(sent.length, listing).toBeLessThanOrEqual(MAX_COMMANDS);
  });

  it('a tracked deal costs its state, task map, history index and pending timers in Redis', async () => {
    const id = e.portal.ui.createDeal(
      { dealname: 'Intake', pipeline: TELEHEALTH.pipeline, dealstage: S.newLead, hubspot_owner_id: REP },
      { userId: Number(REP) },
    ).id;
    await e.settle();
    e.portal.ui.logContactAttempt(id, { userId: Number(REP) });
    e.portal.ui.moveDeal(id, S.contactAttempted, { userId: Number(REP) });
    await e.settle();
    const portalId = String(e.portal.portalId);
    const keys = redisKeys(e.prefix);
    const { state } = await e.stack.service.stores.states.load(portalId, id);
    const timerIds = state!.current!.sla!.timers!.map((t) => t.timerId);
    const pending = await Promise.all(timerIds.map((t) => e.stack.service.timerQueue.pending(portalId, t)));
    expect(pending.every(Boolean)).toBe(true);
    // SAMPLES 0: every field counted (the default samples five, fewer than a job hash has).
    const bytes = async (key: string) => Number(await waiter.memory('USAGE', key, 'SAMPLES', 0));
    const due = keys.timersDue();
    const indexShare = (await bytes(due)) / (await waiter.zcard(due));
    const parts = {
      state: await bytes(keys.dealState(portalId, id)),
      taskMap: await bytes(keys.taskMap(portalId, id)),
      historyIndex: await bytes(keys.historyByDeal(portalId, id)),
      timers: Math.round(indexShare * pending.length),
      // Only timers whose firing cannot be derived from their id have meta: none of the engine's.
      timerMeta: await waiter.exists(keys.timersMeta()),
    };
    const total = Object.values(parts).reduce((a, b) => a + b, 0);
    console.log(`a tracked deal with ${pending.length} pending timers: ${total} bytes`, parts);
    // Before the state was stored deflated and timer retention moved to the worker: this state (~2 KB of JSON)
    // took ~2.3 KB and each timer job ~775 bytes. Issue #18's 2 KB also counts the deal's share of its history
    // week. Timers were one BullMQ job each (~750 bytes with their delayed-set share); now one member each of the
    // due index (with a handful of timers in it MEMORY USAGE is a listpack's, smaller than at scale: the timers
    // bench measures 100,000).
    expect(parts.state).toBeLessThan(800);
    expect(parts.timerMeta).toBe(0);
    expect(parts.timers / pending.length).toBeLessThan(200);
  });
});
