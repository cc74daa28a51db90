import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { P, visitKey, type BreachReason } from '@stagekeeper/shared';
import { TELEHEALTH } from '@stagekeeper/sync-service/demo/playbook';
import { RedisReasonAuditLog } from '@stagekeeper/sync-service/state/reason-audit-store';
import { startE2E, type E2E } from './harness';

// Ops review breaches in HubSpot's reports on the written-back breach reason (the product brief), and a person may
// correct that property in HubSpot itself rather than on the card. Such an edit is a rep's reason, as the card's
// is: Stagekeeper's visit, its history row (the scorecard's input) and the source property follow it, instead of
// HubSpot's reports and the scorecard disagreeing from then on. Seed 000 stage 1: New Lead, 15 minutes.
const PIPELINE = TELEHEALTH.pipeline;
const { newLead: NEW_LEAD, contactAttempted: CONTACT_ATTEMPTED } = TELEHEALTH.stages;
const REP = '52841907';
const OPS = 52841999;
const MIN = 60_000;

let e: E2E;
beforeAll(async () => {
  e = await startE2E();
});
afterAll(async () => {
  await e?.close();
});

/** A New Lead left uncontacted past its 15 minutes: breached, its reason inferred and written back. */
async function breachedLead(name: string): Promise<{ id: string; inferred: BreachReason }> {
  const id = e.portal.ui.createDeal(
    { dealname: name, pipeline: PIPELINE, dealstage: NEW_LEAD, hubspot_owner_id: REP },
    { userId: Number(REP) },
  ).id;
  await e.settle();
  await e.advance(16 * MIN);
  expect(e.props(id)[P.slaStatus]).toBe('breached');
  // Our own write of the reason comes back as a webhook too (the app subscribes to it): not a person's edit.
  expect(e.props(id)[P.breachReasonSource]).toBe('inferred');
  return { id, inferred: e.props(id)[P.breachReason] as BreachReason };
}

const other = (reason: BreachReason): BreachReason => (reason === 'capacity' ? 'handoff' : 'capacity');
const portal = () => e.stack.portalId!;
const state = async (id: string) => (await e.stack.service.stores.states.load(portal(), id)).state!;
const audit = () => new RedisReasonAuditLog(e.stack.service.redis, e.prefix).recent(portal(), 50);

describe('a breach reason corrected in HubSpot is a rep reason', () => {
  it("the current visit's breach: the visit takes it as manual, the source property says so, the audit names who", async () => {
    const { id, inferred } = await breachedLead('edit-current');
    const edited = other(inferred);
    e.portal.ui.setProperty(id, P.breachReason, edited, { userId: OPS });
    await e.settle();

    expect(e.props(id)[P.breachReason]).toBe(edited);
    expect(e.props(id)[P.breachReasonSource]).toBe('manual');
    const s = await state(id);
    expect(s.current!.breachReason).toBe(edited);
    expect(s.current!.breachReasonSource).toBe('manual');
    expect((await audit()).find((a) => a.dealId === id)).toMatchObject({
      entryId: s.current!.entryId,
      reason: edited,
      from: inferred,
      userId: String(OPS),
    });

    // Inference at a later decision does not come back over it: the visit ends with the rep's reason on its row.
    e.portal.ui.logContactAttempt(id, { userId: Number(REP) });
    e.portal.ui.moveDeal(id, CONTACT_ATTEMPTED, { userId: Number(REP) });
    await e.settle();
    const rows = await e.stack.service.stores.history.dealRows(portal(), id, e.clock.now());
    const row = rows.find((r) => r.stage === NEW_LEAD)!;
    expect(row.slaOutcome).toBe('breached');
    expect(row.breachReason).toBe(edited);
    expect(row.breachReasonSource).toBe('manual');
  });

  it("an ended visit's breach (the one the property still shows): its history row is corrected, who and when kept", async () => {
    const { id, inferred } = await breachedLead('edit-past');
    e.portal.ui.logContactAttempt(id, { userId: Number(REP) });
    e.portal.ui.moveDeal(id, CONTACT_ATTEMPTED, { userId: Number(REP) });
    await e.settle();
    const before = (await state(id)).lastBreachEntryId!;
    expect((await state(id)).current!.stage).toBe(CONTACT_ATTEMPTED);

    const edited = other(inferred);
    e.portal.ui.setProperty(id, P.breachReason, edited, { userId: OPS });
    await e.settle();

    const rows = await e.stack.service.stores.history.dealRows(portal(), id, e.clock.now());
    const row = rows.find((r) => visitKey(r) === before)!;
    expect(row.breachReason).toBe(edited);
    expect(row.breachReasonSource).toBe('manual');
    expect(row.inferredReason).toBe(inferred);
    expect(row.corrections).toEqual([{ at: e.clock.now(), userId: String(OPS), from: inferred, to: edited }]);
    expect(e.props(id)[P.breachReasonSource]).toBe('manual');
    expect((await audit()).find((a) => a.dealId === id)).toMatchObject({ past: true, reason: edited });
  });

  it('a cleared reason is written back: a breach always has one in the reports', async () => {
    const { id, inferred } = await breachedLead('edit-cleared');
    e.portal.ui.setProperty(id, P.breachReason, null, { userId: OPS });
    await e.settle();
    expect(e.props(id)[P.breachReason]).toBe(inferred);
    expect(e.props(id)[P.breachReasonSource]).toBe('inferred');
    expect((await state(id)).current!.breachReasonSource).toBe('inferred');
  });

  it('a reason set on a deal that has not breached changes nothing Stagekeeper holds', async () => {
    const id = e.portal.ui.createDeal(
      { dealname: 'no-breach', pipeline: PIPELINE, dealstage: NEW_LEAD, hubspot_owner_id: REP },
      { userId: Number(REP) },
    ).id;
    await e.settle();
    const saved = await state(id);
    e.portal.ui.setProperty(id, P.breachReason, 'capacity', { userId: OPS });
    await e.settle();
    expect(await state(id)).toEqual(saved);
    expect((await audit()).some((a) => a.dealId === id)).toBe(false);
  });
});
