import { afterEach, describe, expect, it } from 'vitest';
import { deleteKeys, startE2E, type E2E } from './harness';

const PIPELINE = '812404417';
const NEW_LEAD = '1180512201';
const REP = '52841907';
const by = { userId: Number(REP) };

let e: E2E | undefined;
afterEach(async () => {
  await e?.close();
  e = undefined;
});

/** Two tracked deals, each with its New Lead tasks open; the second is then merged into the first. */
async function twoDeals(x: E2E): Promise<{ survivor: string; merged: string }> {
  const [survivor, merged] = ['Survivor', 'Merged'].map(
    (dealname) =>
      x.portal.ui.createDeal({ dealname, pipeline: PIPELINE, dealstage: NEW_LEAD, hubspot_owner_id: REP }, by)
        .id,
  );
  await x.settle();
  expect(x.openTasks(merged!).some((t) => t.key.endsWith(':sla'))).toBe(true);
  return { survivor: survivor!, merged: merged! };
}

/** Open Stagekeeper tasks whose key names `dealId`, wherever the merge moved them. */
const openTasksOf = (x: E2E, holder: string, dealId: string) =>
  x.openTasks(holder).filter((t) => t.key.startsWith(`${dealId}:`));

describe('a merged-away deal whose merge webhook was lost', () => {
  it('has its tasks closed once the sweep reconciles the survivor', async () => {
    e = await startE2E();
    const { survivor, merged } = await twoDeals(e);
    e.portal.setFaults({ dropRate: 1, seed: 3 });
    e.portal.ui.mergeDeals(survivor, merged, by);
    await e.settle();
    expect(e.portal.webhooks.dropped.length).toBeGreaterThan(0);
    // Nothing reached the service: the merged deal's tasks sit open on the survivor.
    expect(openTasksOf(e, survivor, merged).length).toBeGreaterThan(0);

    e.portal.setFaults({ dropRate: 0 });
    await e.stack.service.sweepQueue.runOnce();
    await e.settle();
    expect(openTasksOf(e, survivor, merged)).toEqual([]);
    expect(openTasksOf(e, survivor, survivor).filter((t) => t.key.endsWith(':sla'))).toHaveLength(1);
  });

  it('has its tasks closed by the full sweep after a Redis data loss', async () => {
    e = await startE2E();
    const { survivor, merged } = await twoDeals(e);
    e.portal.setFaults({ dropRate: 1, seed: 3 });
    e.portal.ui.mergeDeals(survivor, merged, by);
    await e.settle();
    e.portal.setFaults({ dropRate: 0 });
    e.clock.advance(60_000);
    await e.stack.close();
    await deleteKeys(e.prefix);
    await e.restart();
    await e.stack.service.sweepQueue.runOnce();
    await e.settle();
    expect(openTasksOf(e, survivor, merged)).toEqual([]);
    expect(openTasksOf(e, survivor, survivor).filter((t) => t.key.endsWith(':sla'))).toHaveLength(1);
  });
});

describe('a merge processed before a Redis data loss', () => {
  it('leaves, after the restart and full sweep, the merged tasks closed and one open SLA task on the survivor', async () => {
    e = await startE2E();
    const { survivor, merged } = await twoDeals(e);
    e.portal.ui.mergeDeals(survivor, merged, by);
    await e.settle();
    expect(openTasksOf(e, survivor, merged)).toEqual([]);
    const tasksBefore = e.portal.objects.all('tasks').length;
    e.clock.advance(60_000);
    await e.stack.close();
    await deleteKeys(e.prefix);
    await e.restart();
    await e.stack.service.sweepQueue.runOnce();
    await e.settle();
    // The survivor adopted the tasks that name the merged deal (the merge moved them) without reopening them.
    expect(openTasksOf(e, survivor, merged)).toEqual([]);
    expect(openTasksOf(e, survivor, survivor).filter((t) => t.key.endsWith(':sla'))).toHaveLength(1);
    expect(e.portal.objects.all('tasks').length).toBe(tasksBefore);
  });
});

describe('a merged-away deal holding two copies of one task', () => {
  it('has every copy closed by the merge, not only the one its task map names (chaos finding gone)', async () => {
    e = await startE2E();
    const { survivor, merged } = await twoDeals(e);
    // The task map can name only one of two copies.
    const sla = e.openTasks(merged).find((t) => t.key.endsWith(':sla'))!;
    e.copyTask(sla.id, merged);
    expect(openTasksOf(e, merged, merged).filter((t) => t.key === sla.key)).toHaveLength(2);

    e.portal.ui.mergeDeals(survivor, merged, by);
    await e.settle();
    expect(openTasksOf(e, survivor, merged)).toEqual([]);
    expect(openTasksOf(e, survivor, survivor).filter((t) => t.key.endsWith(':sla'))).toHaveLength(1);
    // Both copies say why they were closed.
    const copies = e.tasks(survivor).filter((t) => t.key === sla.key);
    expect(copies.map((t) => t.subject.startsWith('[Cancelled] '))).toEqual([true, true]);
    expect(copies.some((t) => t.body.includes('a second copy of a task'))).toBe(true);
  });
});
