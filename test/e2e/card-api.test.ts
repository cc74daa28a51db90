import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { P, WRITTEN_BACK_PROPERTIES } from '@stagekeeper/shared';
import { startE2E, type E2E } from './harness';

const PIPELINE = '812404417';
const NEW_LEAD = '1180512201';
const REP = '52841907';
const MIN = 60_000;

let e: E2E;
beforeAll(async () => {
  e = await startE2E();
});
afterAll(async () => {
  await e?.close();
});

/** What hubspot.fetch sends: the portal and user appended to the URL, the whole URL signed with v3. */
async function signedFetch(
  pathAndQuery: string,
  opts: { method?: string; body?: unknown; portalId?: string; secret?: string } = {},
) {
  const method = opts.method ?? 'GET';
  const sep = pathAndQuery.includes('?') ? '&' : '?';
  const url = `${e.stack.service.url}${pathAndQuery}${sep}userId=1001&userEmail=rep%40clinic.test&appId=1&portalId=${opts.portalId ?? e.stack.portalId}`;
  const body = opts.body === undefined ? '' : JSON.stringify(opts.body);
  const ts = String(e.clock.now());
  const sig = createHmac('sha256', opts.secret ?? e.portal.clientSecret)
    .update(`${method}${url.replace('%40', '@')}${body}${ts}`)
    .digest('base64');
  return fetch(url, {
    method,
    headers: {
      'X-HubSpot-Signature-v3': sig,
      'X-HubSpot-Request-Timestamp': ts,
      'Content-Type': 'application/json',
    },
    ...(body ? { body } : {}),
  });
}

describe('the deal card API against the live stack', () => {
  it('shows the running SLA of a deal the service is tracking', async () => {
    const id = e.portal.ui.createDeal(
      { dealname: 'C', pipeline: PIPELINE, dealstage: NEW_LEAD, hubspot_owner_id: REP },
      { userId: Number(REP) },
    ).id;
    await e.settle();
    const res = await signedFetch(`/api/card/deal/${id}`);
    expect(res.status).toBe(200);
    const card = (await res.json()) as {
      managed: boolean;
      stage: { id: string };
      sla: { status: string; targetMs: number };
    };
    expect(card.managed).toBe(true);
    expect(card.stage.id).toBe(NEW_LEAD);
    expect(card.sla.status).toBe('running');
    expect(card.sla.targetMs).toBe(15 * MIN);
  });

  it("tells the rep what to do now: the stage's required actions and what the move to the next stage still needs", async () => {
    // Intake Completed (seed 000: "quality check + route to clinical queue"; exit "chart packet ready and assigned").
    const INTAKE_COMPLETED = '1180512205';
    const id = e.portal.ui.createDeal(
      { dealname: 'N', pipeline: PIPELINE, dealstage: INTAKE_COMPLETED, hubspot_owner_id: REP },
      { userId: Number(REP) },
    ).id;
    await e.settle();
    type Card = {
      requiredActions: { id: string; status: string; overdue: boolean }[];
      nextMove: { to: { label: string }; missing: string[] } | null;
    };
    const card = async () => (await (await signedFetch(`/api/card/deal/${id}`)).json()) as Card;
    const before = await card();
    expect(before.requiredActions.map((a) => [a.id, a.status])).toEqual([
      ['quality_check', 'open'],
      ['route_to_clinical_queue', 'open'],
    ]);
    expect(before.nextMove).toEqual({
      to: { id: '1180512206', label: 'Clinical Review Queue' },
      missing: [
        'Chart packet ready',
        'Chart packet assigned',
        'Structured intake summary',
        'Required intake documents received',
        'Risk flag set',
      ],
    });
    const check = e.openTasks(id).find((t) => t.key.endsWith(':task:quality_check'))!;
    e.portal.ui.completeTask(check.id, { userId: Number(REP) });
    e.portal.ui.setProperties(
      id,
      { chart_packet_ready: 'true', chart_packet_assignee_id: REP, intake_summary: 'structured' },
      { userId: Number(REP) },
    );
    await e.settle();
    const after = await card();
    expect(after.requiredActions.map((a) => a.status)).toEqual(['done', 'open']);
    expect(after.nextMove!.missing).toEqual(['Required intake documents received', 'Risk flag set']);
  });

  it('lets a rep correct the breach reason, written back to HubSpot as a manual reason', async () => {
    const id = e.portal.ui.createDeal(
      { dealname: 'B', pipeline: PIPELINE, dealstage: NEW_LEAD, hubspot_owner_id: REP },
      { userId: Number(REP) },
    ).id;
    await e.settle();
    await e.advance(16 * MIN);
    expect(e.props(id)[P.slaStatus]).toBe('breached');
    const res = await signedFetch(`/api/card/deal/${id}/breach-reason`, {
      method: 'POST',
      body: { reason: 'capacity' },
    });
    expect(res.status).toBe(200);
    await e.settle();
    expect(e.props(id)[P.breachReason]).toBe('capacity');
    expect(e.props(id)[P.breachReasonSource]).toBe('manual');
  });

  it('reports install, provisioning and webhook activity on the settings status', async () => {
    const res = await signedFetch('/api/settings/status');
    expect(res.status).toBe(200);
    const status = (await res.json()) as {
      installed: boolean;
      provisioning: { state: string; propertiesPresent: number };
      lastWebhookAt: string | null;
    };
    expect(status.installed).toBe(true);
    expect(status.provisioning.state).toBe('complete');
    expect(status.provisioning.propertiesPresent).toBe(WRITTEN_BACK_PROPERTIES.length);
    // Earlier tests in this file created deals, so webhooks have arrived.
    expect(status.lastWebhookAt).not.toBeNull();
  });

  it('refuses a request signed with another secret', async () => {
    const res = await signedFetch('/api/settings/playbook', { secret: 'not-the-app-secret' });
    expect(res.status).toBe(401);
  });
});
