import type { PageFacts } from '@stagekeeper/shared';
import { describe, expect, it } from 'vitest';
import { retryAfterMs } from './deliver';
import {
  dealLink,
  headline,
  pagerDutyTrigger,
  pageText,
  resolvedLine,
  slackPayload,
  slackResolvedPayload,
  teamsPayload,
  webhookPagePayload,
} from './render';
import { signWebhook, verifyWebhookSignature } from './sign';

const HOUR = 3_600_000;
// Seed 000: Intake Completed, SLA 4 business hours, lead paged at 3 hours.
const facts: PageFacts = {
  dealId: '4711',
  pipeline: { id: '812404417', label: 'Telehealth intake' },
  stage: { id: '1180512205', label: 'Intake Completed' },
  role: { id: 'intake_ops', name: 'Intake Ops' },
  leadOwnerId: '61230460',
  level: 1,
  atPct: 75,
  waitedMs: 3 * HOUR,
  slaMs: 4 * HOUR,
  basis: 'business',
  dueAt: Date.parse('2026-03-02T17:00:00Z'),
  breached: false,
  reason: 'Intake waiting 3h for clinical review',
  breachReason: null,
  timeZone: 'America/New_York',
};
const link = dealLink('880011', '4711');

describe('page rendering', () => {
  it('links the deal record in HubSpot', () => {
    expect(link).toBe('https://app.hubspot.com/contacts/880011/record/0-3/4711');
    expect(dealLink('1', '2', 'https://app-eu1.hubspot.com')).toBe(
      'https://app-eu1.hubspot.com/contacts/1/record/0-3/2',
    );
  });

  it('the first line says it all (stage, deal, waited against the SLA, level) and fits a lock screen', () => {
    expect(headline(facts)).toBe('75% of SLA · Intake Completed: deal 4711 waited 3h of 4h (L1)');
    expect(headline({ ...facts, breached: true, waitedMs: 4 * HOUR + 10 * 60_000, level: 2 })).toBe(
      'BREACHED · Intake Completed: deal 4711 waited 4h10m of 4h (L2)',
    );
    expect(headline(facts).length).toBeLessThanOrEqual(110);
  });

  it('the full text carries pipeline, stage, role, waited vs SLA, level, reason and the link', () => {
    const text = pageText(facts, link);
    for (const part of [
      'Telehealth intake',
      'Intake Completed',
      'Intake Ops',
      '3h of 4h staffed time',
      'Escalation level 1 (at 75%',
      'Intake waiting 3h for clinical review',
      link,
    ])
      expect(text).toContain(part);
  });

  it("says when the SLA is due in the stage calendar's time zone, in words, with the zone named", () => {
    // 17:00Z on Monday 2 March 2026 is noon in New York (EST, UTC-5).
    expect(pageText(facts, link)).toContain('due Mon 2 Mar, 12:00 PM EST');
    expect(
      pageText({ ...facts, timeZone: 'Europe/Berlin', dueAt: Date.parse('2026-07-01T06:05:00Z') }, link),
    ).toContain('due Wed 1 Jul, 8:05 AM GMT+2');
    expect(pageText({ ...facts, timeZone: 'Australia/Sydney' }, link)).toContain(
      'due Tue 3 Mar, 4:00 AM GMT+11',
    );
    // A page queued before facts carried the zone still reads unambiguously.
    const { timeZone: _zone, ...noZone } = facts;
    expect(pageText(noZone, link)).toContain('due Mon 2 Mar, 5:00 PM UTC');
    expect(pageText(facts, link)).not.toContain('T17:00:00');
    expect(JSON.stringify(teamsPayload(facts, link))).toContain('due Mon 2 Mar, 12:00 PM EST');
    expect(pagerDutyTrigger(facts, link, 'k'.repeat(32), 'dk').payload.custom_details).toMatchObject({
      due: 'Mon 2 Mar, 12:00 PM EST',
      due_at: '2026-03-02T17:00:00.000Z',
    });
  });

  it('each channel leads with the headline', () => {
    expect(slackPayload(facts, link).text).toBe(headline(facts));
    expect(teamsPayload(facts, link).summary).toBe(headline(facts));
    expect(pagerDutyTrigger(facts, link, 'k'.repeat(32), 'dk').payload.summary).toBe(headline(facts));
    expect(webhookPagePayload(facts, link, 'key', '880011').text).toBe(headline(facts));
  });

  it('the Slack/Teams follow-up says which page is resolved and why, in one line', () => {
    const note = { dealId: '4711', stage: 'Intake Completed', level: 1 };
    expect(resolvedLine({ ...note, why: 'sla_met' })).toBe(
      'Resolved · Intake Completed: deal 4711 met its SLA (L1)',
    );
    expect(resolvedLine({ ...note, why: 'stage_left' })).toBe(
      'Resolved · Intake Completed: deal 4711 left the stage (L1)',
    );
    expect(resolvedLine({ ...note, why: 'deal_closed' })).toBe(
      'Resolved · Intake Completed: deal 4711 was closed (L1)',
    );
    expect(resolvedLine({ ...note, why: 'sla_cancelled' })).toBe(
      'Resolved · Intake Completed: deal 4711 no longer has an SLA running (L1)',
    );
    expect(
      JSON.stringify(slackResolvedPayload({ ...note, stage: 'A <b> & C', why: 'sla_met' }, link).blocks),
    ).toContain('A &lt;b&gt; &amp; C');
  });

  it('Slack control characters in labels are escaped', () => {
    const tricky = { ...facts, stage: { id: 's', label: 'A <b> & C' } };
    expect(JSON.stringify(slackPayload(tricky, link).blocks)).toContain('A &lt;b&gt; &amp; C');
  });
});

describe('webhook signature', () => {
  it('verifies, and refuses a changed body, a wrong secret or a stale timestamp', () => {
    const now = Date.parse('2026-03-02T12:00:00Z');
    const body = JSON.stringify({ hello: 'world' });
    const h = signWebhook('s3cret-s3cret-s3cret', body, now);
    const headers = { timestamp: h['X-Stagekeeper-Timestamp'], signature: h['X-Stagekeeper-Signature'] };
    expect(headers.signature).toMatch(/^v1=[0-9a-f]{64}$/);
    expect(verifyWebhookSignature('s3cret-s3cret-s3cret', body, headers, now + 1_000)).toEqual({ ok: true });
    expect(verifyWebhookSignature('s3cret-s3cret-s3cret', `${body} `, headers, now)).toEqual({
      ok: false,
      reason: 'mismatch',
    });
    expect(verifyWebhookSignature('other-other-other', body, headers, now)).toEqual({
      ok: false,
      reason: 'mismatch',
    });
    expect(verifyWebhookSignature('s3cret-s3cret-s3cret', body, headers, now + 301_000)).toEqual({
      ok: false,
      reason: 'stale',
    });
  });
});

describe('Retry-After', () => {
  it('reads seconds and HTTP dates, and caps what a service may ask', () => {
    const now = Date.parse('2026-03-02T12:00:00Z');
    expect(retryAfterMs('30', now)).toBe(30_000);
    expect(retryAfterMs('Mon, 02 Mar 2026 12:01:00 GMT', now)).toBe(60_000);
    expect(retryAfterMs('999999', now)).toBe(15 * 60_000);
    expect(retryAfterMs(null, now)).toBeUndefined();
    expect(retryAfterMs('soon', now)).toBeUndefined();
  });
});
