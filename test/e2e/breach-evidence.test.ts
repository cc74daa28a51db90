import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { P } from '@stagekeeper/shared';
import { TELEHEALTH } from '@stagekeeper/sync-service/demo/playbook';
import { createObject } from '../sandbox/crm';
import { startE2E, type E2E } from './harness';

/**
 * Capacity evidence in production: at a breach the worker reads the owner's open tasks from HubSpot (one tasks
 * search) and decides again with that load. Seed 000 stage 1 (New Lead, 15 staffed minutes, Growth/Ops); the
 * canonical playbook's New Lead rules name capacity at 20 open tasks or more.
 */
const MIN = 60_000;
const BUSY = '52841907';
const CALM = '52841913';

let e: E2E;
beforeAll(async () => {
  e = await startE2E();
});
afterAll(async () => {
  await e?.close();
});

const openTasksFor = (owner: string, n: number) => {
  for (let i = 0; i < n; i++)
    createObject(
      e.portal,
      'tasks',
      {
        properties: {
          hs_task_subject: `Other work ${i}`,
          hs_timestamp: new Date(e.clock.now()).toISOString(),
          hubspot_owner_id: owner,
          hs_task_status: 'NOT_STARTED',
        },
      },
      { changeSource: 'CRM_UI', sourceId: `userId:${owner}` },
    );
};

describe('breach reason evidence through the service and the sandbox', () => {
  it("capacity: the owner's open-task load is read from HubSpot at the breach and written back", async () => {
    openTasksFor(BUSY, 21);
    const busy = e.portal.ui.createDeal({
      dealname: 'Intake request',
      pipeline: TELEHEALTH.pipeline,
      dealstage: TELEHEALTH.stages.newLead,
      hubspot_owner_id: BUSY,
    }).id;
    const calm = e.portal.ui.createDeal({
      dealname: 'Intake request',
      pipeline: TELEHEALTH.pipeline,
      dealstage: TELEHEALTH.stages.newLead,
      hubspot_owner_id: CALM,
    }).id;
    await e.settle();
    await e.advance(16 * MIN);
    const b = e.props(busy);
    expect(b[P.slaStatus]).toBe('breached');
    expect(b[P.breachReason]).toBe('capacity');
    // 21 other tasks plus the deal's own SLA task, still open at the breach.
    expect(Number(b[P.breachOwnerOpenTasks])).toBeGreaterThanOrEqual(21);
    expect(b[P.breachEvidence]).toMatch(/^owner holds \d+ open tasks in HubSpot$/);
    const c = e.props(calm);
    expect(c[P.slaStatus]).toBe('breached');
    // The calm owner's load is read too, but 20 is not reached: no evidence, so "other", never a guess.
    expect(c[P.breachReason]).toBe('other');
    expect(Number(c[P.breachOwnerOpenTasks])).toBeLessThan(20);
  });
});
