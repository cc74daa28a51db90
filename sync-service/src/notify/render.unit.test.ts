import type { PageFacts } from '@stagekeeper/shared';
import { describe, expect, it } from 'vitest';
import { retryAfterMs } from './deliver';
import { dealLink, headline, pagerDutyTrigger, pageText, slackPayload, teamsPayload, webhookPagePayload } from './render';
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
};
const link = dealLink('880011', '4711');

describe('page rendering', () => {
  it('links the deal record in HubSpot', () => {
    expect(link).toBe('https://app.hubspot.com/contacts/880011/record/0-3/4711');
    expect(dealLink('1', '2', 'https://app-eu1.hubspot.com')).toBe('https://app-eu1.hubspot.com/contacts/1/record/0-3/2');
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
    for (const part of ['Telehealth intake', 'Intake Completed', 'Intake Ops', '3h of 4h staffed time', 'Escalation level 1 (at 75%', 'Intake waiting 3h for clinical review', link])
      expect(text).toContain(part);
  });

  it('each channel leads with the headline', () => {
    expect(slackPayload(facts, link).text).toBe(headline(facts));
    expect(teamsPayload(facts, link).summary).toBe(headline(facts));
    expect(pagerDutyTrigger(facts, link, 'k'.repeat(32), 'dk').payload.summary).toBe(headline(facts));
    expect(webhookPagePayload(facts, link, 'key', '880011').text).toBe(headline(facts));
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
    expect(verifyWebhookSignature('s3cret-s3cret-s3cret', `${body} `, headers, now)).toEqual({ ok: false, reason: 'mismatch' });
    expect(verifyWebhookSignature('other-other-other', body, headers, now)).toEqual({ ok: false, reason: 'mismatch' });
    expect(verifyWebhookSignature('s3cret-s3cret-s3cret', body, headers, now + 301_000)).toEqual({ ok: false, reason: 'stale' });
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
