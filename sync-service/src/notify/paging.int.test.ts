import { randomBytes } from 'node:crypto';
import { onTimer, reconcile, type PageCommand, type Playbook } from '@stagekeeper/shared';
import { fixturePlaybook, HOUR, MON_10, snap } from '@stagekeeper/shared/engine/fixtures';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startPagingFake, type PagingFake } from '../../../test/fakes/paging/server';
import { silentLogger } from '../log';
import { registry } from '../metrics';
import { deletePrefix, testPrefix, testRedis, waitFor } from '../testing/fakes';
import { createPaging, type Paging } from '.';
import { pageJobId, resolveJobId } from './page-queue';
import type { PageRecord } from './page-trail';
import { headline } from './render';
import { verifyWebhookSignature } from './sign';

const PORTAL = '880011';
const DEAL = '4711';
const KEY = randomBytes(32).toString('base64');
const ROUTING_KEY = 'R0123456789abcdef0123456789ABCDE';
/** Patient-like values on the deal: none may appear in any request any channel receives. */
const PATIENT = {
  num_contacted_notes: '0',
  dealname: 'Jane Q. Patient',
  diagnosis: 'Type 2 diabetes',
  phone: '+1 555 0100 777',
};
const NOW = MON_10 + 2 * HOUR; // Monday noon in New York: the intake role is staffed

/** The page the real engine emits when level 1 (a task for the lead, at 100 %) fires. */
function enginePage(playbook: Playbook = fixturePlaybook(), now = NOW): PageCommand {
  const snapshot = snap({ dealId: DEAL, properties: PATIENT });
  const entered = reconcile({ playbook, state: null, snapshot, now: MON_10 }).state!;
  const entryId = entered.current!.entryId;
  const r = onTimer({
    playbook,
    state: entered,
    snapshot,
    timer: { timerId: `${entryId}:level:0`, kind: 'escalation', level: 0, entryId },
    now,
  });
  const page = r.commands.find((c): c is PageCommand => c.type === 'page');
  if (!page) throw new Error('the engine emitted no page');
  return page;
}

let redis: Redis;
let workerRedis: Redis;
let fake: PagingFake;
let prefix: string;
let paging: Paging;
let now = NOW;
let current = true;

const start = (attempts = 4) => {
  paging = createPaging({
    redis,
    workerRedis,
    prefix,
    encryptionKey: KEY,
    log: silentLogger,
    clock: () => now,
    allowHttpLoopback: true,
    backoffBaseMs: 10,
    attempts,
    states: {
      load: async () => ({
        state: current ? ({ current: { entryId: enginePage().entryId } } as never) : null,
        version: 0,
      }),
    },
  });
};

const record = async (key: string) => paging.trail.get(PORTAL, DEAL, key);
const settled = async (key: string, status: PageRecord['status'] | PageRecord['status'][]) => {
  const want = Array.isArray(status) ? status : [status];
  await waitFor(
    async () => want.includes((await record(key))?.status ?? 'queued'),
    20_000,
    `page ${want.join('/')}`,
  );
  return (await record(key))!;
};
const metric = async (channel: string, outcome: string) =>
  (await registry.getSingleMetric('stagekeeper_pages_total')!.get()).values.find(
    (v) => v.labels.channel === channel && v.labels.outcome === outcome,
  )?.value ?? 0;

beforeAll(async () => {
  redis = testRedis();
  workerRedis = redis.duplicate({ maxRetriesPerRequest: null });
  fake = await startPagingFake();
});
beforeEach(() => {
  prefix = testPrefix();
  now = NOW;
  current = true;
  fake.received.length = 0;
  fake.incidents.clear();
});
afterEach(async () => {
  await paging?.close();
  await deletePrefix(redis, prefix);
});
afterAll(async () => {
  await fake.close();
  await workerRedis.quit();
  await redis.quit();
});

describe('Slack', () => {
  it('200 "ok": the page is sent once, recorded in the trail, and the channel is healthy', async () => {
    start();
    await paging.channels.put(PORTAL, 'ops-slack', {
      kind: 'slack',
      webhookUrl: `${fake.url}/slack/services/T000/B000/XXXX`,
    });
    const page = enginePage();
    const sentBefore = await metric('slack', 'sent');
    await paging.enqueue(PORTAL, DEAL, page);
    const rec = await settled(page.key, 'sent');
    expect(rec).toMatchObject({
      channel: 'ops-slack',
      kind: 'slack',
      attempts: 1,
      level: 1,
      stage: 'Lead',
      error: null,
    });
    const [req] = fake.requestsTo('/slack/');
    expect((req!.json as { text: string }).text).toBe(headline(page.facts));
    expect(req!.raw).toContain(`https://app.hubspot.com/contacts/${PORTAL}/record/0-3/${DEAL}`);
    // Trail first, then channel health and the metric: wait for the job to finish.
    await waitFor(async () => (await metric('slack', 'sent')) === sentBefore + 1, 10_000, 'the sent metric');
    expect((await paging.channels.health(PORTAL))['ops-slack']).toMatchObject({
      state: 'ok',
      consecutiveFailures: 0,
    });

    // Dedup per deal, stage entry and level: the same decision replayed (or a retried worker job) pages no more.
    await paging.enqueue(PORTAL, DEAL, page);
    await paging.enqueue(PORTAL, DEAL, page);
    expect(await paging.queue.queue.getJobCounts('waiting', 'delayed', 'active')).toMatchObject({
      waiting: 0,
      delayed: 0,
      active: 0,
    });
    expect(fake.requestsTo('/slack/')).toHaveLength(1);
  });

  it('429 with Retry-After: retried no sooner than Slack asked, then sent', async () => {
    start();
    await paging.channels.put(PORTAL, 'ops-slack', {
      kind: 'slack',
      webhookUrl: `${fake.url}/slack/services/T000/B000/XXXX`,
    });
    fake.script('/slack/services/T000/B000/XXXX', {
      status: 429,
      body: 'rate_limited',
      headers: { 'Retry-After': '1' },
    });
    const page = enginePage();
    await paging.enqueue(PORTAL, DEAL, page);
    const rec = await settled(page.key, 'sent');
    const [first, second] = fake.requestsTo('/slack/');
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(1_000);
    expect(rec.attempts).toBe(2);
    // Rate limiting is not the channel failing: nothing was recorded against it.
    await waitFor(
      async () => (await paging.channels.health(PORTAL))['ops-slack'] !== undefined,
      10_000,
      'health',
    );
    expect((await paging.channels.health(PORTAL))['ops-slack']).toMatchObject({
      state: 'ok',
      lastError: null,
    });
  });

  it('404 channel_not_found fails fast: one request, the page failed, the channel reported failing', async () => {
    start();
    await paging.channels.put(PORTAL, 'ops-slack', {
      kind: 'slack',
      webhookUrl: `${fake.url}/slack/services/T000/B000/XXXX`,
    });
    fake.script('/slack/services/T000/B000/XXXX', { status: 404, body: 'channel_not_found' });
    const page = enginePage();
    await paging.enqueue(PORTAL, DEAL, page);
    const rec = await settled(page.key, 'failed');
    expect(rec.error).toBe('channel_not_found');
    expect(fake.requestsTo('/slack/')).toHaveLength(1);
    expect((await paging.channels.health(PORTAL))['ops-slack']).toMatchObject({
      state: 'failing',
      lastError: 'channel_not_found',
    });
  });

  it('a channel that keeps answering 5xx is retried with back-off, then failed and reported failing', async () => {
    start(3);
    await paging.channels.put(PORTAL, 'ops-slack', {
      kind: 'slack',
      webhookUrl: `${fake.url}/slack/services/T000/B000/XXXX`,
    });
    const down = { status: 503, body: 'service_unavailable' };
    fake.script('/slack/services/T000/B000/XXXX', down, down, down);
    const page = enginePage();
    await paging.enqueue(PORTAL, DEAL, page);
    const rec = await settled(page.key, 'failed');
    expect(rec).toMatchObject({ attempts: 3, error: 'http_503' });
    expect(fake.requestsTo('/slack/')).toHaveLength(3);
    expect((await paging.channels.health(PORTAL))['ops-slack']).toMatchObject({
      state: 'failing',
      consecutiveFailures: 3,
    });
  });
});

describe('Microsoft Teams', () => {
  it('200 "1" after a 429 with Retry-After; a 400 bad payload fails fast', async () => {
    start();
    await paging.channels.put(PORTAL, 'teams', { kind: 'teams', webhookUrl: `${fake.url}/teams/ops` });
    fake.script('/teams/ops', {
      status: 429,
      body: 'Microsoft Teams endpoint returned HTTP error 429',
      headers: { 'Retry-After': '1' },
    });
    const page = enginePage();
    await paging.enqueue(PORTAL, DEAL, page);
    expect(await settled(page.key, 'sent')).toMatchObject({ kind: 'teams', attempts: 2 });
    const body = fake.requestsTo('/teams/').at(-1)!.json as {
      summary: string;
      attachments: { content: { actions: { url: string }[] } }[];
    };
    expect(body.summary).toBe(headline(page.facts));
    expect(body.attachments[0]!.content.actions[0]!.url).toBe(
      `https://app.hubspot.com/contacts/${PORTAL}/record/0-3/${DEAL}`,
    );

    await paging.close();
    prefix = testPrefix();
    fake.received.length = 0;
    start();
    await paging.channels.put(PORTAL, 'teams', { kind: 'teams', webhookUrl: `${fake.url}/teams/ops` });
    fake.script('/teams/ops', { status: 400, body: 'Summary or Text is required.' });
    await paging.enqueue(PORTAL, DEAL, page);
    expect(await settled(page.key, 'failed')).toMatchObject({ error: 'http_400' });
    expect(fake.requestsTo('/teams/')).toHaveLength(1);
  });
});

describe('PagerDuty Events API v2', () => {
  it('triggers with a dedup key (202), retries its 429, and resolves the incident when the visit ends', async () => {
    start();
    await paging.channels.put(PORTAL, 'pd', {
      kind: 'pagerduty',
      routingKey: ROUTING_KEY,
      eventsUrl: `${fake.url}/pagerduty/v2/enqueue`,
    });
    fake.script('/pagerduty/v2/enqueue', { status: 429, body: '' });
    const page = enginePage();
    await paging.enqueue(PORTAL, DEAL, page);
    const rec = await settled(page.key, 'sent');
    const dedup = `stagekeeper:${PORTAL}:${page.key}`;
    expect(rec).toMatchObject({ kind: 'pagerduty', attempts: 2, dedupKey: dedup });
    expect(fake.incidents.get(dedup)).toBe('triggered');
    const trigger = fake.requestsTo('/pagerduty/').at(-1)!.json as {
      event_action: string;
      payload: { summary: string; severity: string };
    };
    expect(trigger).toMatchObject({
      event_action: 'trigger',
      payload: { summary: headline(page.facts), severity: 'critical' },
    });

    await paging.enqueue(PORTAL, DEAL, {
      type: 'resolvePage',
      key: page.key,
      entryId: page.entryId,
      why: 'stage_left',
    });
    expect(await settled(page.key, 'resolved')).toMatchObject({ before: 'sent', resolvedWhy: 'stage_left' });
    expect(fake.incidents.get(dedup)).toBe('resolved');
  });

  it('an invalid routing key is a 400 "invalid event": failed at once', async () => {
    start();
    // The store accepts only 32-character keys; a revoked integration answers like a malformed key.
    await paging.channels.put(PORTAL, 'pd', {
      kind: 'pagerduty',
      routingKey: ROUTING_KEY,
      eventsUrl: `${fake.url}/pagerduty/v2/enqueue`,
    });
    fake.script('/pagerduty/v2/enqueue', {
      status: 400,
      body: { status: 'invalid event', message: 'Event object is invalid', errors: ['Invalid routing key'] },
    });
    const page = enginePage();
    await paging.enqueue(PORTAL, DEAL, page);
    expect(await settled(page.key, 'failed')).toMatchObject({ error: 'invalid_event' });
    expect(fake.requestsTo('/pagerduty/')).toHaveLength(1);
  });
});

describe('generic webhook', () => {
  it('is signed with HMAC-SHA256 over timestamp and body, and told when the page resolves', async () => {
    start();
    const secret = 'a-shared-secret-of-the-team';
    await paging.channels.put(PORTAL, 'oncall', { kind: 'webhook', url: `${fake.url}/hook/oncall`, secret });
    const page = enginePage();
    await paging.enqueue(PORTAL, DEAL, page);
    await settled(page.key, 'sent');
    const [req] = fake.requestsTo('/hook/');
    const headers = {
      timestamp: req!.headers['x-stagekeeper-timestamp'],
      signature: req!.headers['x-stagekeeper-signature'],
    };
    expect(verifyWebhookSignature(secret, req!.raw, headers, now)).toEqual({ ok: true });
    expect(verifyWebhookSignature('another-secret-entirely', req!.raw, headers, now)).toEqual({
      ok: false,
      reason: 'mismatch',
    });
    expect(req!.json).toMatchObject({
      type: 'page.triggered',
      key: page.key,
      portalId: PORTAL,
      page: { dealId: DEAL, level: 1 },
    });

    await paging.enqueue(PORTAL, DEAL, {
      type: 'resolvePage',
      key: page.key,
      entryId: page.entryId,
      why: 'sla_met',
    });
    await settled(page.key, 'resolved');
    expect(fake.requestsTo('/hook/').at(-1)!.json).toMatchObject({
      type: 'page.resolved',
      key: page.key,
      why: 'sla_met',
    });
  });
});

describe('content rules', () => {
  it('no request to any channel carries a property value of the deal', async () => {
    start();
    await paging.channels.put(PORTAL, 'slack', {
      kind: 'slack',
      webhookUrl: `${fake.url}/slack/services/T000/B000/XXXX`,
    });
    await paging.channels.put(PORTAL, 'teams', { kind: 'teams', webhookUrl: `${fake.url}/teams/ops` });
    await paging.channels.put(PORTAL, 'pd', {
      kind: 'pagerduty',
      routingKey: ROUTING_KEY,
      eventsUrl: `${fake.url}/pagerduty/v2/enqueue`,
    });
    await paging.channels.put(PORTAL, 'hook', {
      kind: 'webhook',
      url: `${fake.url}/hook/x`,
      secret: 'sixteen-chars-at-least',
    });
    // One page per channel: each a different level key of the same visit, sent through a named channel.
    const base = enginePage();
    const keys: string[] = [];
    for (const [i, channel] of ['slack', 'teams', 'pd', 'hook'].entries()) {
      const key = `${base.entryId}:level:${i + 10}`;
      keys.push(key);
      await paging.enqueue(PORTAL, DEAL, { ...base, key, channel });
    }
    for (const key of keys) await settled(key, 'sent');
    expect(fake.received).toHaveLength(4);
    for (const req of fake.received) {
      for (const value of Object.values(PATIENT).filter((v) => v !== '0'))
        expect(req.raw).not.toContain(value);
      expect(req.raw).toContain(DEAL);
    }
  });
});

describe('staffed hours, fallback and resolution', () => {
  // The intake role works evenings (18:00-22:00 New York); notices are not held by the timer itself.
  const evening = (pageNow: boolean) =>
    fixturePlaybook((p) => {
      p.roles[0]!.calendar = 'evening';
      const sla = p.pipelines[0]!.stages[0]!.sla!;
      sla.noticesInStaffedHours = false;
      if (pageNow) sla.escalations![0]!.page = { now: true };
    });

  it('a page due off shift is held until the role is staffed, then sent; "page now" is not held', async () => {
    start();
    await paging.channels.put(PORTAL, 'ops-slack', {
      kind: 'slack',
      webhookUrl: `${fake.url}/slack/services/T000/B000/XXXX`,
    });
    const held = enginePage(evening(false));
    expect(held.notBefore).toBe(Date.parse('2026-03-02T18:00:00-05:00'));
    await paging.enqueue(PORTAL, DEAL, held);
    const job = await paging.queue.queue.getJob(pageJobId(PORTAL, held.key));
    expect(await job!.getState()).toBe('delayed');
    expect(job!.opts.delay).toBe(6 * HOUR);
    expect((await record(held.key))!.status).toBe('held');
    expect(fake.received).toHaveLength(0);
    // Six hours pass: the delayed job comes due (promoted instead of waiting), and the page goes out.
    now = held.notBefore;
    await job!.promote();
    await settled(held.key, 'sent');
    expect(fake.received).toHaveLength(1);

    const urgent = enginePage(evening(true));
    expect(urgent.notBefore).toBe(NOW);
  });

  it('a held page whose visit ends before the shift starts is dropped, never sent', async () => {
    start();
    await paging.channels.put(PORTAL, 'ops-slack', {
      kind: 'slack',
      webhookUrl: `${fake.url}/slack/services/T000/B000/XXXX`,
    });
    const held = enginePage(evening(false));
    await paging.enqueue(PORTAL, DEAL, held);
    await paging.enqueue(PORTAL, DEAL, {
      type: 'resolvePage',
      key: held.key,
      entryId: held.entryId,
      why: 'stage_left',
    });
    expect(await settled(held.key, 'resolved')).toMatchObject({ before: 'held', sentAt: null });
    expect(await paging.queue.queue.getJob(pageJobId(PORTAL, held.key))).toBeUndefined();
    expect(fake.received).toHaveLength(0);
  });

  it('no channel configured: recorded as no_channel (the HubSpot task stands alone); an unknown channel fails', async () => {
    start();
    const page = enginePage();
    await paging.enqueue(PORTAL, DEAL, page);
    expect((await settled(page.key, 'no_channel')).channel).toBeNull();
    const named = { ...page, key: `${page.entryId}:level:5`, channel: 'nowhere' };
    await paging.enqueue(PORTAL, DEAL, named);
    expect(await settled(named.key, 'failed')).toMatchObject({
      channel: 'nowhere',
      error: 'channel_not_configured',
    });
    expect(fake.received).toHaveLength(0);
  });

  it('a page whose stage visit is no longer current is not sent', async () => {
    start();
    await paging.channels.put(PORTAL, 'ops-slack', {
      kind: 'slack',
      webhookUrl: `${fake.url}/slack/services/T000/B000/XXXX`,
    });
    current = false;
    const page = enginePage();
    await paging.enqueue(PORTAL, DEAL, page);
    expect(await settled(page.key, 'resolved')).toMatchObject({
      before: 'queued',
      resolvedWhy: 'stage_left',
    });
    expect(fake.received).toHaveLength(0);
  });
});

describe('a channel answering with a redirect', () => {
  it.each([301, 302, 307, 308])(
    '%i is the channel misconfigured: failed at once, not followed, the channel failing',
    async (status) => {
      start();
      await paging.channels.put(PORTAL, 'moved', {
        kind: 'webhook',
        url: `${fake.url}/hook/moved`,
        secret: 'a-shared-secret-of-the-team',
      });
      fake.script('/hook/moved', { status, headers: { Location: `${fake.url}/hook/elsewhere` } });
      const page = enginePage();
      await paging.enqueue(PORTAL, DEAL, page);
      expect(await settled(page.key, 'failed')).toMatchObject({ error: 'redirect', attempts: 1 });
      // Not followed (a redirect could carry the page somewhere nobody configured) and not retried.
      expect(fake.requestsTo('/hook/').map((r) => r.path)).toEqual(['/hook/moved']);
      await waitFor(
        async () => (await paging.channels.health(PORTAL))['moved']?.state === 'failing',
        10_000,
        'the channel marked failing',
      );
      expect((await paging.channels.health(PORTAL))['moved']).toMatchObject({ lastError: 'redirect' });
    },
  );
});

describe('Slack and Teams resolved follow-up', () => {
  it.each([
    ['slack', { kind: 'slack' as const, webhookUrl: '/slack/services/T000/B000/XXXX' }, '/slack/'],
    ['teams', { kind: 'teams' as const, webhookUrl: '/teams/ops' }, '/teams/'],
  ])(
    '%s gets one short "resolved" message when the SLA is met; a replayed resolve sends no more',
    async (_name, channel, path) => {
      start();
      await paging.channels.put(
        PORTAL,
        'chat',
        { ...channel, webhookUrl: `${fake.url}${channel.webhookUrl}` },
        true,
      );
      const page = enginePage();
      await paging.enqueue(PORTAL, DEAL, page);
      await settled(page.key, 'sent');
      const resolve = {
        type: 'resolvePage' as const,
        key: page.key,
        entryId: page.entryId,
        why: 'sla_met' as const,
      };
      await paging.enqueue(PORTAL, DEAL, resolve);
      expect(await settled(page.key, 'resolved')).toMatchObject({ before: 'sent', resolvedWhy: 'sla_met' });
      const sent = fake.requestsTo(path);
      expect(sent).toHaveLength(2);
      const line = `Resolved · ${page.facts.stage.label}: deal ${DEAL} met its SLA (L1)`;
      const body = sent[1]!.json as { text?: string; summary?: string };
      expect(channel.kind === 'slack' ? body.text : body.summary).toBe(line);
      expect(sent[1]!.raw).toContain(`https://app.hubspot.com/contacts/${PORTAL}/record/0-3/${DEAL}`);
      for (const value of Object.values(PATIENT).filter((v) => v !== '0'))
        expect(sent[1]!.raw).not.toContain(value);

      // The same resolution decided again (a replayed webhook, a sweep) after its job is gone: the trail dedups it.
      const jobId = resolveJobId(PORTAL, page.key);
      await waitFor(
        async () => (await paging.queue.queue.getJob(jobId))?.finishedOn !== undefined,
        10_000,
        'the first resolve job finished',
      );
      await paging.queue.queue.remove(jobId);
      await paging.enqueue(PORTAL, DEAL, { ...resolve, why: 'stage_left' });
      await waitFor(
        async () => (await (await paging.queue.queue.getJob(jobId))?.getState()) === 'completed',
        10_000,
        'the replayed resolve job',
      );
      expect((await paging.queue.queue.getJob(jobId))!.returnvalue).toBe('nothing');
      expect(fake.requestsTo(path)).toHaveLength(2);
    },
  );

  it('a page that never went out (no channel) gets no follow-up', async () => {
    start();
    const page = enginePage();
    await paging.enqueue(PORTAL, DEAL, page);
    await settled(page.key, 'no_channel');
    await paging.channels.put(
      PORTAL,
      'chat',
      { kind: 'slack', webhookUrl: `${fake.url}/slack/services/T000/B000/XXXX` },
      true,
    );
    await paging.enqueue(PORTAL, DEAL, {
      type: 'resolvePage',
      key: page.key,
      entryId: page.entryId,
      why: 'stage_left',
    });
    expect(await settled(page.key, 'resolved')).toMatchObject({ before: 'no_channel' });
    expect(fake.received).toHaveLength(0);
  });
});
