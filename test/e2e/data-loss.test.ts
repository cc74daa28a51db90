import { afterEach, describe, expect, it } from 'vitest';
import { P } from '@stagekeeper/shared';
import { deleteKeys, startE2E, type E2E } from './harness';

const PIPELINE = '812404417';
const NEW_LEAD = '1180512201';
const CONTACT_ATTEMPTED = '1180512202';
const REP = '52841907';
const by = { userId: Number(REP) };

let e: E2E | undefined;
afterEach(async () => {
  await e?.close();
  e = undefined;
});

/** Six deals in New Lead, three of them moved on to Contact Attempted: each with its current SLA task open. */
async function seedDeals(x: E2E): Promise<string[]> {
  const ids = Array.from(
    { length: 6 },
    (_, i) =>
      x.portal.ui.createDeal(
        { dealname: `L${i}`, pipeline: PIPELINE, dealstage: NEW_LEAD, hubspot_owner_id: REP },
        by,
      ).id,
  );
  await x.settle();
  for (const id of ids.slice(0, 3)) {
    x.portal.ui.logContactAttempt(id, by);
    x.portal.ui.moveDeal(id, CONTACT_ATTEMPTED, by);
  }
  await x.settle();
  return ids;
}

/**
 * Per deal, the open Stagekeeper tasks (HubSpot ids, sorted): all of the current visit, exactly one of them its
 * SLA task (the stage's required-action tasks are open beside it).
 */
function openTaskIds(x: E2E, ids: string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const id of ids) {
    const open = x.openTasks(id).filter((t) => t.key);
    const stage = x.props(id).dealstage!;
    expect(
      open.filter((t) => t.key.endsWith(':sla')),
      `open SLA tasks of deal ${id}`,
    ).toHaveLength(1);
    expect(
      open.every((t) => t.key.includes(`:${stage}:`)),
      `open tasks of ended visits on deal ${id}`,
    ).toBe(true);
    out.set(id, open.map((t) => t.id).sort());
  }
  return out;
}

const until = async (what: string, check: () => Promise<boolean> | boolean, timeoutMs = 20_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('Redis data loss (issue 12)', () => {
  it('while running: detected, re-seeded, a full sweep adopts existing tasks; one open task per deal, none recreated', async () => {
    e = await startE2E();
    const ids = await seedDeals(e);
    const before = openTaskIds(e, ids);
    const tasksBefore = e.portal.objects.all('tasks').length;
    e.clock.advance(60_000);

    // What a Redis restart without persistence looks like to this service: every key it had is gone.
    await deleteKeys(e.prefix);
    const guard = e.stack.service.dataLoss;
    await until(
      'the loss to be detected and repaired',
      async () => (await guard.verify()) && guard.seededAt !== null,
    );
    await guard.settled();
    expect(await e.stack.service.stores.playbooks.current(e.stack.portalId!)).not.toBeNull();
    await e.settle();

    // The full sweep re-read every deal: each adopted its open task (same HubSpot id), nothing duplicated.
    const after = openTaskIds(e, ids);
    expect(after).toEqual(before);
    expect(e.portal.objects.all('tasks').length).toBe(tasksBefore);
    for (const id of ids) expect(e.props(id)[P.slaStatus]).toBe('running');
    // The SLA timers, lost with the rest, are armed again in the due index from the re-read deals.
    for (const id of ids) {
      const portalId = e.stack.portalId!;
      const { state } = await e.stack.service.stores.states.load(portalId, id);
      const armed = state!.current!.sla!.timers!.map((t) => t.timerId);
      expect(armed.length, `timers of deal ${id}`).toBeGreaterThan(0);
      for (const t of armed) expect(await e.stack.service.timerQueue.pending(portalId, t), t).toBeDefined();
    }

    // Enforcement runs on: a move after the loss closes the adopted task and opens exactly one new one.
    const moved = ids[3]!;
    e.portal.ui.logContactAttempt(moved, by);
    e.portal.ui.moveDeal(moved, CONTACT_ATTEMPTED, by);
    await e.settle();
    const now = openTaskIds(e, ids);
    expect(now.get(moved)).not.toEqual(before.get(moved));
    for (const old of before.get(moved)!)
      expect(e.tasks(moved).find((t) => t.id === old)!.status).toBe('COMPLETED');
  });

  it('while stopped: a restart on an empty Redis re-seeds, and restart plus sweep leaves one open task per deal', async () => {
    e = await startE2E();
    const ids = await seedDeals(e);
    const before = openTaskIds(e, ids);
    e.clock.advance(60_000);
    await e.stack.close();
    await deleteKeys(e.prefix);
    await e.restart();
    await e.stack.service.sweepQueue.runOnce();
    await e.settle();
    expect(openTaskIds(e, ids)).toEqual(before);
  });

  it("adopts one of two copies of a task and cancels the other (a create that landed beside the sweep's)", async () => {
    e = await startE2E();
    const ids = await seedDeals(e);
    const before = openTaskIds(e, ids);
    const sla = e.openTasks(ids[0]!).find((t) => t.key.endsWith(':sla'))!;
    e.clock.advance(60_000);
    await e.stack.close();
    await deleteKeys(e.prefix);
    const copy = e.copyTask(sla.id, ids[0]!);
    await e.restart();
    await e.stack.service.sweepQueue.runOnce();
    await e.settle();
    expect(openTaskIds(e, ids)).toEqual(before);
    const cancelled = e.tasks(ids[0]!).find((t) => t.id === copy)!;
    expect(cancelled.status).toBe('COMPLETED');
    expect(cancelled.subject.startsWith('[Cancelled] ')).toBe(true);
  });
});
