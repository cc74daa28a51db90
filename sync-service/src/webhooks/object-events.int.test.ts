import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox } from '../../../test/sandbox/harness';
import { createApp } from '../http/app';
import { createLogger } from '../log';
import { registry } from '../metrics';
import type { IngestJobData } from '../queue/ingest';
import { signV3 } from '../../../test/sandbox';

// Issue 13 point 3: real deliveries to a 2026.03 app are `object.*` events. The sandbox now sends them by
// default; the service must route them, still route `deal.*`, and count and warn about what it cannot place.
let sb: Awaited<ReturnType<typeof startSandbox>>;
let server: Server;
let url: string;
const enqueued: IngestJobData[] = [];
const logs: string[] = [];

beforeAll(async () => {
  sb = await startSandbox();
  const app = createApp({
    clientSecret: sb.portal.clientSecret,
    maxBodyBytes: 1024 * 1024,
    enqueue: async (r) => void enqueued.push(r),
    readiness: async () => {},
    log: createLogger('debug', { write: (s: string) => void logs.push(s) }),
  });
  server = createServer(app);
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/hubspot`;
});
afterAll(async () => {
  await new Promise<void>((ok) => server.close(() => ok()));
  await sb.close();
});

const dealIds = () => enqueued.flatMap((r) => r.portals.flatMap((p) => p.dealIds));
const metric = async (outcome: string) =>
  (await registry.getSingleMetric('stagekeeper_webhook_events_total')!.get()).values.find(
    (v) => v.labels.outcome === outcome,
  )?.value ?? 0;

async function post(events: Record<string, unknown>[]) {
  const body = JSON.stringify(events);
  const ts = Date.now();
  return fetch(url, {
    method: 'POST',
    body,
    headers: {
      'Content-Type': 'application/json',
      'X-HubSpot-Signature-v3': signV3(sb.portal.clientSecret, 'POST', url, body, ts),
      'X-HubSpot-Request-Timestamp': String(ts),
    },
  });
}

describe('object.* deliveries from the sandbox reach the ingest queue', () => {
  it('the sandbox delivers object.* events (objectTypeId 0-3) and the service routes every deal', async () => {
    sb.portal.webhooks.configure({
      targetUrl: url,
      subscriptions: [
        { eventType: 'deal.creation' },
        { eventType: 'deal.propertyChange', propertyName: 'dealstage' },
      ],
    });
    const deal = sb.portal.ui.createDeal({ dealname: 'Object event' });
    sb.portal.ui.moveDeal(deal.id, 'qualifiedtobuy');
    await sb.portal.webhooks.drain();
    const delivered = sb.portal.webhooks.deliveries;
    expect(delivered.length).toBeGreaterThan(0);
    expect(delivered.every((d) => d.status === 200)).toBe(true);
    expect(dealIds()).toContain(deal.id);
  });

  it('the legacy deal.* shape is still routed', async () => {
    enqueued.length = 0;
    sb.portal.webhooks.configure({ format: 'legacy' });
    const deal = sb.portal.ui.createDeal({ dealname: 'Legacy event' });
    await sb.portal.webhooks.drain();
    expect(dealIds()).toEqual([deal.id]);
    sb.portal.webhooks.configure({ format: 'object' });
  });
});

describe('events the service does not fully understand are counted and logged at warn, never dropped silently', () => {
  const base = {
    eventId: 1,
    subscriptionId: 2,
    portalId: Number(55501),
    appId: 3,
    occurredAt: Date.now(),
    attemptNumber: 0,
  };

  it('an object.* event without objectTypeId is routed as a deal (the app subscribes to deals only), counted and warned', async () => {
    enqueued.length = 0;
    logs.length = 0;
    const before = await metric('incomplete');
    const r = await post([
      {
        ...base,
        subscriptionType: 'object.propertyChange',
        objectId: 4242,
        propertyName: 'dealstage',
        propertyValue: 'x',
      },
    ]);
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ accepted: 1 });
    expect(dealIds()).toEqual(['4242']);
    expect(await metric('incomplete')).toBe(before + 1);
    const warn = logs.map((l) => JSON.parse(l)).find((l) => l.msg === 'webhook events not fully understood');
    expect(warn).toMatchObject({
      level: 40,
      unrecognised: { 'object.propertyChange: object_type_missing': 1 },
    });
    // Types only: the property value never reaches the log.
    expect(logs.join('')).not.toContain('"x"');
  });

  it('an unknown event type: 200 (HubSpot must not retry it for a day), counted as unrecognised and warned', async () => {
    logs.length = 0;
    const before = await metric('unrecognised');
    const r = await post([
      { ...base, subscriptionType: 'object.somethingNew', objectTypeId: '0-3', objectId: 1 },
      { ...base, subscriptionType: 'weird', objectId: 2 },
    ]);
    expect(r.status).toBe(200);
    expect(await metric('unrecognised')).toBe(before + 2);
    const warn = logs.map((l) => JSON.parse(l)).find((l) => l.msg === 'webhook events not fully understood');
    expect(warn.unrecognised).toEqual({ 'object.somethingNew: unknown_type': 1, 'weird: unknown_type': 1 });
  });
});
