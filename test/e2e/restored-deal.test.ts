import { P } from '@stagekeeper/shared';
import { TELEHEALTH } from '@stagekeeper/sync-service/demo/playbook';
import { afterEach, describe, expect, it } from 'vitest';
import { deleteKeys, startE2E, type E2E } from './harness';

// HubSpot keeps a deleted deal 90 days and restores it as it was (object.restore). engine/restore.ts takes its
// visit up again; gateway/task-reopening.ts reopens the tasks the deletion cancelled.

const { newLead: NEW_LEAD, intakeStarted: INTAKE_STARTED } = TELEHEALTH.stages;
const REP = '52841907';
const by = { userId: Number(REP) };
const MIN = 60_000;

let e: E2E | undefined;
afterEach(async () => {
  await e?.close();
  e = undefined;
});

/** The rep's deal in `stage`, settled. */
async function repDeal(x: E2E, stage: string): Promise<string> {
  const { id } = x.portal.ui.createDeal(
    { dealname: 'Restored', pipeline: TELEHEALTH.pipeline, dealstage: stage, hubspot_owner_id: REP },
    by,
  );
  await x.settle();
  return id;
}

async function deleteAndRestore(x: E2E, dealId: string): Promise<void> {
  x.portal.ui.deleteDeal(dealId, by);
  await x.settle();
  x.clock.advance(MIN);
  x.portal.ui.restoreDeal(dealId, by);
  await x.settle();
}

describe('a deleted deal HubSpot restores', () => {
  it('is enforced again: its SLA task reopened, its clock breaching and escalating', async () => {
    e = await startE2E();
    const id = await repDeal(e, NEW_LEAD);
    const [sla] = e.openTasks(id).filter((t) => t.key.endsWith(':sla'));
    expect(sla).toBeDefined();

    e.portal.ui.deleteDeal(id, by);
    await e.settle();
    expect(e.tasks(id).find((t) => t.id === sla!.id)).toMatchObject({ status: 'COMPLETED' });
    e.clock.advance(MIN);
    e.portal.ui.restoreDeal(id, by);
    await e.settle();

    // The same task, open again as it was first created: no second copy under its key.
    const again = e.tasks(id).filter((t) => t.key === sla!.key);
    expect(again).toHaveLength(1);
    expect(again[0]).toMatchObject({ id: sla!.id, status: 'NOT_STARTED', subject: sla!.subject, owner: REP });
    expect(again[0]!.body).not.toMatch(/Cancelled by Stagekeeper/);
    expect(e.props(id)).toMatchObject({ [P.slaStatus]: 'running' });

    // New Lead's 15 minutes run from the stage entry, the time deleted included.
    await e.advance(30 * MIN);
    expect(e.props(id)).toMatchObject({ [P.slaStatus]: 'breached', [P.breachCount]: '1' });
    expect(e.openTasks(id).some((t) => t.key.includes(':level:'))).toBe(true);
  });

  it("leaves a task the rep completed before the deletion completed, and reopens the rest of the stage's", async () => {
    e = await startE2E();
    const id = await repDeal(e, INTAKE_STARTED);
    const open = e.openTasks(id);
    expect(open.length).toBeGreaterThan(2);
    const done = open.find((t) => !t.key.endsWith(':sla'))!;
    e.portal.ui.completeTask(done.id, by);
    await e.settle();

    await deleteAndRestore(e, id);
    expect(e.tasks(id).find((t) => t.id === done.id)).toMatchObject({
      status: 'COMPLETED',
      subject: done.subject,
    });
    const reopened = e.openTasks(id);
    expect(reopened.map((t) => t.id).sort()).toEqual(
      open
        .filter((t) => t.id !== done.id)
        .map((t) => t.id)
        .sort(),
    );
    expect(reopened.every((t) => !t.subject.startsWith('[Cancelled]'))).toBe(true);
    expect(e.portal.objects.all('tasks')).toHaveLength(open.length);
  });

  it('is enforced again when Redis lost its data while the deal was deleted', async () => {
    e = await startE2E();
    const id = await repDeal(e, NEW_LEAD);
    const sla = e.openTasks(id).find((t) => t.key.endsWith(':sla'))!;
    e.portal.ui.deleteDeal(id, by);
    await e.settle();
    // The service's record of the deletion and of who closed the task goes with the data.
    e.clock.advance(MIN);
    await e.stack.close();
    await deleteKeys(e.prefix);
    await e.restart();
    e.portal.ui.restoreDeal(id, by);
    await e.settle();
    await e.stack.service.sweepQueue.runOnce();
    await e.settle();

    // The task the deletion cancelled is Stagekeeper's, not a rep's completion: reopened, not left closed.
    const again = e.tasks(id).filter((t) => t.key === sla.key);
    expect(again).toHaveLength(1);
    expect(again[0]).toMatchObject({ id: sla.id, status: 'NOT_STARTED', subject: sla.subject });
    expect(e.props(id)).toMatchObject({ [P.slaStatus]: 'running' });
  });
});
