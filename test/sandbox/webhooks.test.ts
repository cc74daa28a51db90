import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startReceiver, startSandbox, verifyV3 } from './harness';

let sb: Awaited<ReturnType<typeof startSandbox>>;
let rx: Awaited<ReturnType<typeof startReceiver>>;

async function setup(answer?: Parameters<typeof startReceiver>[0], format: 'object' | 'legacy' = 'object') {
  rx = await startReceiver(answer);
  sb = await startSandbox();
  sb.portal.seedOwner({ id: '801', email: 'rep@clinic.test', userId: 45678 });
  sb.portal.webhooks.configure({
    targetUrl: rx.url,
    retryDelayMs: () => 5,
    format,
    subscriptions: [
      { eventType: 'deal.creation' },
      { eventType: 'deal.deletion' },
      { eventType: 'deal.merge' },
      { eventType: 'deal.propertyChange', propertyName: 'dealstage' },
      { eventType: 'deal.propertyChange', propertyName: 'hubspot_owner_id' },
    ],
  });
}
beforeEach(() => {
  rx = undefined as never;
  sb = undefined as never;
});
afterEach(async () => {
  await sb?.close();
  await rx?.close();
});

const events = () => rx.received.flatMap((r) => r.events);

describe('webhook deliveries', () => {
  it.each([
    ['object', (kind: string) => ({ subscriptionType: `object.${kind}`, objectTypeId: '0-3' })],
    ['legacy', (kind: string) => ({ subscriptionType: `deal.${kind}` })],
  ] as const)(
    'sends signed v3 batches with HubSpot fields for API writes and UI actions (%s format)',
    async (format, type) => {
      await setup(undefined, format);
      const hs = sb.client();
      const created = await hs.crm.deals.basicApi.create({
        properties: { dealname: 'Hook', dealstage: 'appointmentscheduled' },
        associations: [],
      });
      const other = sb.portal.ui.createDeal({ dealname: 'Dupe' });
      sb.portal.ui.moveDeal(created.id, 'qualifiedtobuy', { userId: 45678 });
      sb.portal.ui.setOwner(created.id, '801');
      sb.portal.ui.mergeDeals(created.id, other.id);
      sb.portal.ui.deleteDeal(created.id);
      await sb.portal.webhooks.drain();

      for (const r of rx.received) {
        expect(r.headers['content-type']).toBe('application/json');
        const ok = verifyV3(
          sb.portal.clientSecret,
          'POST',
          rx.url,
          r.raw,
          r.headers['x-hubspot-signature-v3'] as string,
          r.headers['x-hubspot-request-timestamp'] as string,
        );
        expect(ok).toBe(true);
        expect(
          verifyV3(
            'other-secret',
            'POST',
            rx.url,
            r.raw,
            r.headers['x-hubspot-signature-v3'] as string,
            r.headers['x-hubspot-request-timestamp'] as string,
          ),
        ).toBe(false);
      }
      const id = Number(created.id);
      const base = {
        portalId: sb.portal.portalId,
        appId: sb.portal.appId,
        attemptNumber: 0,
        subscriptionId: expect.any(Number),
        eventId: expect.any(Number),
        occurredAt: expect.any(Number),
      };
      const mine = events().filter((e) => e.objectId === id);
      expect(mine).toEqual([
        {
          ...base,
          ...type('creation'),
          objectId: id,
          changeFlag: 'CREATED',
          changeSource: 'API',
          sourceId: String(sb.portal.appId),
        },
        {
          ...base,
          ...type('propertyChange'),
          objectId: id,
          propertyName: 'dealstage',
          propertyValue: 'appointmentscheduled',
          changeSource: 'API',
          sourceId: String(sb.portal.appId),
        },
        {
          ...base,
          ...type('propertyChange'),
          objectId: id,
          propertyName: 'dealstage',
          propertyValue: 'qualifiedtobuy',
          changeSource: 'CRM_UI',
          sourceId: 'userId:45678',
        },
        {
          ...base,
          ...type('propertyChange'),
          objectId: id,
          propertyName: 'hubspot_owner_id',
          propertyValue: '801',
          changeSource: 'CRM_UI',
          sourceId: 'userId:45678',
        },
        {
          ...base,
          ...type('merge'),
          objectId: id,
          changeSource: 'CRM_UI',
          sourceId: 'userId:45678',
          primaryObjectId: id,
          mergedObjectIds: [Number(other.id)],
          newObjectId: id,
          numberOfPropertiesMoved: expect.any(Number),
        },
        { ...base, ...type('deletion'), objectId: id, changeSource: 'CRM_UI', sourceId: 'userId:45678' },
      ]);
      // Everything happened inside one batching window: one POST.
      expect(rx.received).toHaveLength(1);
    },
  );

  it('retries a failed delivery with attemptNumber 1 and the same events', async () => {
    await setup((n) => (n === 0 ? 500 : 200));
    const deal = sb.portal.ui.createDeal({ dealname: 'Retry me' });
    await sb.portal.webhooks.drain();
    expect(rx.received.map((r) => r.answered)).toEqual([500, 200]);
    const [first, second] = rx.received;
    expect(first!.events.every((e) => e.attemptNumber === 0)).toBe(true);
    expect(second!.events.every((e) => e.attemptNumber === 1)).toBe(true);
    expect(second!.events.map((e) => e.eventId)).toEqual(first!.events.map((e) => e.eventId));
    expect(second!.events[0]).toMatchObject({
      objectId: Number(deal.id),
      subscriptionType: 'object.creation',
      objectTypeId: '0-3',
    });
  });

  it('gives up after 10 retries', async () => {
    await setup(() => 503);
    sb.portal.ui.createDeal({ dealname: 'Never delivered' });
    await sb.portal.webhooks.drain();
    expect(rx.received.map((r) => r.events[0]!.attemptNumber)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(sb.portal.webhooks.failed).toHaveLength(1);
  });

  it('splits more than 100 events into batches of at most 100', async () => {
    await setup();
    for (let i = 0; i < 150; i++) sb.portal.ui.createDeal({ dealname: `Bulk ${i}` });
    await sb.portal.webhooks.drain();
    // creation + dealstage change per deal
    expect(rx.received.map((r) => r.events.length)).toEqual([100, 100, 100]);
  });
});

describe('webhook faults', () => {
  it('duplicates, drops and reorders deterministically from the seed', async () => {
    await setup();
    sb.portal.setFaults({ duplicateRate: 1, seed: 3 });
    sb.portal.ui.createDeal({ dealname: 'Twice' });
    await sb.portal.webhooks.drain();
    const ids = events().map((e) => e.eventId);
    expect(ids).toHaveLength(4);
    expect(new Set(ids).size).toBe(2);

    rx.received.length = 0;
    sb.portal.setFaults({ duplicateRate: 0, dropRate: 1 });
    sb.portal.ui.createDeal({ dealname: 'Lost' });
    await sb.portal.webhooks.drain();
    expect(rx.received).toHaveLength(0);
    expect(sb.portal.webhooks.dropped).toHaveLength(2);

    sb.portal.setFaults({ dropRate: 0, reorder: true, seed: 11 });
    const deal = sb.portal.ui.createDeal({ dealname: 'Shuffled' });
    const stages = [
      'qualifiedtobuy',
      'presentationscheduled',
      'decisionmakerboughtin',
      'contractsent',
      'closedwon',
    ];
    for (const s of [...stages, ...stages]) sb.portal.ui.moveDeal(deal.id, s);
    await sb.portal.webhooks.drain();
    const arrived = events().map((e) => e.eventId as number);
    expect(arrived).toHaveLength(12);
    expect(arrived).not.toEqual([...arrived].sort((a, b) => a - b));
  });
});
