import { P } from '@stagekeeper/shared';
import { TELEHEALTH } from '@stagekeeper/sync-service/demo/playbook';
import { afterEach, describe, expect, it } from 'vitest';
import { startE2E, type E2E } from './harness';

// HubSpot's merge keeps the survivor's values and fills its blank properties from the merged deal, Stagekeeper's
// among them (test/sandbox/objects.ts `merge`). What the survivor shows afterwards is engine/merges.ts's rule.

const { newLead: NEW_LEAD, contactAttempted: CONTACT_ATTEMPTED } = TELEHEALTH.stages;
const ACTIVE = '1180512209'; // Active / Retention: no stage SLA
const REP = '52841907';
const by = { userId: Number(REP) };
const MIN = 60_000;

let e: E2E | undefined;
afterEach(async () => {
  await e?.close();
  e = undefined;
});

const lead = (x: E2E, dealname: string, stage: string = NEW_LEAD) =>
  x.portal.ui.createDeal(
    { dealname, pipeline: TELEHEALTH.pipeline, dealstage: stage, hubspot_owner_id: REP },
    by,
  ).id;

describe('a merge survivor', () => {
  it("shows no SLA clock or gate list of the merged deal's in a stage without an SLA", async () => {
    e = await startE2E();
    const merged = lead(e, 'Merged');
    await e.settle();
    // Blocked: no contact attempt logged yet.
    e.portal.ui.moveDeal(merged, CONTACT_ATTEMPTED, by);
    await e.settle();
    expect(e.props(merged)).toMatchObject({ [P.slaStatus]: 'running', [P.gateStatus]: 'blocked_reverted' });
    expect(e.props(merged)[P.gateMissing]).toBeTruthy();
    const survivor = lead(e, 'Survivor', ACTIVE);
    await e.settle();
    expect(e.props(survivor)[P.slaDueAt]).toBeUndefined();

    e.portal.ui.mergeDeals(survivor, merged, by);
    await e.settle();
    const after = e.props(survivor);
    for (const p of [P.slaStatus, P.slaDueAt, P.slaWarningAt, P.gateMissing])
      expect(after[p], p).toBeUndefined();
    expect(after).toMatchObject({ [P.gateStatus]: 'clear', [P.stageOwnerRole]: 'patient_success' });
  });

  it("keeps the merged deal's breach as the record's history and counts its own next breach after it", async () => {
    e = await startE2E();
    const merged = lead(e, 'Merged');
    await e.settle();
    await e.advance(30 * MIN); // New Lead's 15-minute SLA breaches
    expect(e.props(merged)).toMatchObject({ [P.slaStatus]: 'breached', [P.breachCount]: '1' });
    const survivor = lead(e, 'Survivor');
    await e.settle();

    e.portal.ui.mergeDeals(survivor, merged, by);
    await e.settle();
    // The survivor's own clock runs; the latest breach on the record is the merged deal's.
    expect(e.props(survivor)).toMatchObject({
      [P.slaStatus]: 'running',
      [P.breachCount]: '1',
      [P.breachStage]: NEW_LEAD,
    });

    await e.advance(30 * MIN);
    expect(e.props(survivor)).toMatchObject({ [P.slaStatus]: 'breached', [P.breachCount]: '2' });
  });
});
