import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { computeScorecard, isoWeekOf, loadExamplePlaybook, P } from '@stagekeeper/shared';
import { createLogger } from '@stagekeeper/sync-service/log';
import { HistoryStore } from '@stagekeeper/sync-service/state/history-store';
import { redisKeys } from '@stagekeeper/sync-service/state/keys';
import { REDIS_URL, startE2E, type E2E } from './harness';

/**
 * The journey (seed 001) and referral (seed 004) playbooks walked through the service and the sandbox portal over
 * HTTP with real Redis, on one manual clock starting Monday 2026-11-23 14:00 UTC (08:00 Chicago, 14:00 London).
 * Each scenario names the seed line it proves.
 */
const MIN = 60_000;
const ms = (v: string | null | undefined) => (v && /^\d+$/.test(v) ? Number(v) : Date.parse(v ?? ''));

describe('seed 001: five-phase journey (shared/playbooks/five-phase-journey.yaml)', () => {
  const S = {
    intake: 'appointmentscheduled',
    review: 'qualifiedtobuy',
    denied: '2051400303',
    notEligible: '2051400308',
    active: '2051400306',
    refillDue: '2051400307',
  };
  const INTAKE = '48120331';
  const CLINICAL = '48120512';
  const CLINICAL_LEAD = '48120500';
  let e: E2E;
  beforeAll(async () => {
    e = await startE2E({ playbook: loadExamplePlaybook('fivePhase') });
  });
  afterAll(async () => {
    await e?.close();
  });
  const move = async (id: string, stage: string) => {
    await e.advance(MIN);
    e.portal.ui.moveDeal(id, stage, { userId: Number(INTAKE) });
    await e.settle();
  };

  it('"explicit sub-status values": an incomplete intake stays in its stage, visible, its clock paused', async () => {
    const id = e.portal.ui.createDeal({
      dealname: 'Journey',
      pipeline: 'default',
      dealstage: S.intake,
      hubspot_owner_id: INTAKE,
      intake_substatus: 'awaiting_consent',
    }).id;
    await e.settle();
    expect(e.props(id)[P.slaStatus]).toBe('paused');
    e.portal.ui.setProperty(id, 'intake_substatus', 'complete');
    await e.settle();
    expect(e.props(id)[P.slaStatus]).toBe('running');
  });

  it('"Denied ... must route to defined follow-up states, not dead ends": an owned stage with a task and an SLA that escalates', async () => {
    const id = e.portal.ui.createDeal({
      dealname: 'Journey',
      pipeline: 'default',
      dealstage: S.review,
      hubspot_owner_id: CLINICAL,
    }).id;
    await e.settle();
    e.portal.ui.setProperties(id, { clinical_decision: 'denied', denial_reason: 'contraindication' });
    await move(id, S.denied);
    const p = e.props(id);
    expect([p.dealstage, p[P.stageOwnerRole], p[P.slaStatus]]).toEqual([S.denied, 'clinical_ops', 'running']);
    expect(e.openTasks(id).map((t) => t.subject)).toContain(
      'Tell the patient the decision and the alternatives (redirect)',
    );
    // 12 care-team hours: Monday 08:00-19:00 Chicago is 11, so Tuesday 08:00 is past due; the lead gets a task.
    await e.advance(24 * 60 * MIN);
    expect(e.props(id)[P.slaStatus]).toBe('breached');
    expect(e.openTasks(id).some((t) => t.owner === CLINICAL_LEAD)).toBe(true);
    // The journey then closes as Not Eligible (closed-lost, with a closure reason), once the patient was told.
    for (const t of e.openTasks(id))
      if (t.subject.startsWith('Tell the patient')) e.portal.ui.completeTask(t.id);
    e.portal.ui.setProperty(id, P.closureReason, 'not_a_fit');
    await move(id, S.notEligible);
    expect(e.props(id).dealstage).toBe(S.notEligible);
    expect(e.props(id)[P.gateStatus]).not.toBe('blocked_reverted');
  });

  it('"refill cadence ... represented in pipeline state": Refill Due -> Active Care is a declared loop, not backflow', async () => {
    const id = e.portal.ui.createDeal({
      dealname: 'Journey',
      pipeline: 'default',
      dealstage: S.active,
      hubspot_owner_id: '48120815',
    }).id;
    await e.settle();
    e.portal.ui.setProperty(id, 'next_refill_date', String(e.clock.now() + 7 * 24 * 60 * MIN));
    await move(id, S.refillDue);
    expect(e.props(id).dealstage).toBe(S.refillDue);
    await move(id, S.active);
    expect(e.props(id).dealstage).toBe(S.active);
    expect(Number(e.props(id)[P.backflowCount] ?? '0')).toBe(0);
    // A move back that is not a declared loop still counts.
    await move(id, S.review);
    expect(Number(e.props(id)[P.backflowCount])).toBe(1);
  });
});

describe('seed 004: provider referrals (shared/playbooks/provider-referrals.yaml)', () => {
  const S = {
    received: '1290330101',
    triage: '1290330103',
    declinedFeedback: '1290330109',
    declined: '1290330108',
  };
  const COORD = '33019204';
  const COORD_LEAD = '33019200';
  let e: E2E;
  beforeAll(async () => {
    e = await startE2E({ playbook: loadExamplePlaybook('referrals') });
  });
  afterAll(async () => {
    await e?.close();
  });
  const create = (extra: Record<string, string> = {}) =>
    e.portal.ui.createDeal({
      dealname: 'Referral',
      pipeline: '845120077',
      dealstage: S.received,
      hubspot_owner_id: COORD,
      ...extra,
    }).id;

  it('"Referral intake should be faster than consumer intake": first touch due in 10 staffed minutes (consumer: 15)', async () => {
    const id = create();
    await e.settle();
    const p = e.props(id);
    const entered = ms(p[`hs_v2_date_entered_${S.received}`]);
    expect(ms(p[P.slaDueAt]) - entered).toBe(10 * MIN);
    expect(ms(p[P.slaDueAt]) - entered).toBeLessThan(15 * MIN);
  });

  it('"urgent or high-priority referrals route immediately": 5 minutes, the lead has a task at half of it', async () => {
    const id = create({ referral_priority: 'urgent' });
    await e.settle();
    const entered = ms(e.props(id)[`hs_v2_date_entered_${S.received}`]);
    expect(ms(e.props(id)[P.slaDueAt]) - entered).toBe(5 * MIN);
    await e.advance(3 * MIN);
    expect(e.openTasks(id).some((t) => t.owner === COORD_LEAD)).toBe(true);
    expect(e.props(id)[P.slaStatus]).not.toBe('breached');
  });

  it('"outcome -> partner feedback update" for a declined referral too, before it closes', async () => {
    const id = create();
    await e.settle();
    e.portal.ui.logContactAttempt(id);
    e.portal.ui.setProperties(id, {
      referral_letter_received_at: String(e.clock.now()),
      referrer_ods_code: 'A81001',
      referral_reason: 'assessment',
      referral_complete: 'true',
    });
    await e.advance(MIN);
    e.portal.ui.moveDeal(id, S.triage);
    await e.settle();
    expect(e.props(id).dealstage).toBe(S.triage);
    e.portal.ui.setProperties(id, { triage_outcome: 'declined', decline_reason: 'out_of_scope' });
    await e.advance(MIN);
    e.portal.ui.moveDeal(id, S.declinedFeedback);
    await e.settle();
    const p = e.props(id);
    expect([p.dealstage, p[P.stageOwnerRole], p[P.slaStatus]]).toEqual([
      S.declinedFeedback,
      'partner_liaison',
      'running',
    ]);
    const feedback = e.openTasks(id).find((t) => t.subject.startsWith('Tell the referrer why'));
    expect(feedback).toBeTruthy();
    // Closing before the feedback is sent is refused by the gate; after it, the referral closes as declined.
    await e.advance(MIN);
    e.portal.ui.moveDeal(id, S.declined);
    await e.settle();
    expect(e.props(id).dealstage).toBe(S.declinedFeedback);
    e.portal.ui.completeTask(feedback!.id);
    e.portal.ui.setProperty(id, 'partner_feedback_sent_at', String(e.clock.now()));
    await e.advance(MIN);
    e.portal.ui.moveDeal(id, S.declined);
    await e.settle();
    expect(e.props(id).dealstage).toBe(S.declined);
  });

  it("004's referral scorecard: first touch, incomplete referrals and the partner referring again within 30 days", async () => {
    // Two referrals from one partner, the second two days after the first and incomplete (clarification first).
    const first = create({ referrer_ods_code: 'B82002' });
    await e.settle();
    await e.advance(4 * MIN);
    e.portal.ui.logContactAttempt(first);
    e.portal.ui.setProperties(first, {
      referral_letter_received_at: String(e.clock.now()),
      referral_reason: 'assessment',
      referral_complete: 'true',
    });
    e.portal.ui.moveDeal(first, S.triage);
    await e.settle();
    expect(e.props(first).dealstage).toBe(S.triage);
    await e.advance(2 * 24 * 60 * MIN);
    const second = create({ referrer_ods_code: 'B82002' });
    await e.settle();
    await e.advance(6 * MIN);
    e.portal.ui.logContactAttempt(second);
    e.portal.ui.moveDeal(second, '1290330102'); // Referral Clarification: the letter is missing
    await e.settle();
    expect(e.props(second).dealstage).toBe('1290330102');

    const redis = new Redis(REDIS_URL);
    const portalId = e.stack.portalId!;
    const rows = await new HistoryStore(redis, redisKeys(e.prefix), createLogger('silent'))
      .readWeek(portalId, e.clock.now())
      .finally(() => redis.quit());
    const zone = e.playbook.calendars[0]!.timeZone;
    const card = computeScorecard({
      rows,
      playbook: e.playbook,
      week: isoWeekOf(e.clock.now(), zone),
      zone,
      now: e.clock.now(),
    });
    const mine = rows.filter((r) => r.dealId === first || r.dealId === second);
    expect(mine.map((r) => r.dims?.referrer_ods_code)).toEqual(['B82002', 'B82002']);
    // Other tests' referrals share the week; these two add their first touches (4 and 6 wall minutes).
    expect(card.funnel!.received).toBeGreaterThanOrEqual(2);
    expect(card.funnel!.incomplete).toBeGreaterThanOrEqual(1);
    // B82002's first referral was followed by another within 30 days: re-referred; the second is still pending.
    const firstTouches = mine.map((r) => r.exitedAt - r.enteredAt);
    expect(firstTouches).toEqual([4 * MIN, 6 * MIN]);
    expect(card.funnel!.reReferral).toMatchObject({ reReferred: 1, partnersReferringAgain: 1 });
    expect(card.funnel!.reReferral!.pending).toBeGreaterThanOrEqual(1);
  });
});
