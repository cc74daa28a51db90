import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseWebhookBatch, WebhookEvent } from './events';
import { fastEventParser } from './fast-event';

const fastEvent = fastEventParser(Object.keys(WebhookEvent.shape));

/** What HubSpot sends for a deal property change. */
const typical = {
  eventId: 1_234_567,
  subscriptionId: 101,
  portalId: 24_681_357,
  appId: 3_141_592,
  occurredAt: 1_700_000_000_000,
  subscriptionType: 'deal.propertyChange',
  attemptNumber: 0,
  objectId: 40_000_000_001,
  propertyName: 'dealstage',
  propertyValue: '1180512202',
  changeSource: 'CRM_UI',
  sourceId: 'userId:52841907',
};

/** Values near every edge the schema draws: unsafe and negative integers, -0, NaN, long strings, null, objects. */
const edgy = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.constantFrom<unknown>(
      0,
      -0,
      -1,
      2 ** 53,
      2 ** 53 - 1,
      1.5,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      '',
      '7',
      'x'.repeat(200),
      'x'.repeat(201),
      null,
      undefined,
      true,
      [],
      {},
    ),
  },
  fc.integer(),
  fc.maxSafeNat(),
  fc.double(),
  fc.string(),
  fc.stringMatching(/^\d{1,22}$/),
  fc.constant(null),
  fc.constant(undefined),
  fc.boolean(),
  fc.array(fc.nat(), { maxLength: 2 }),
  fc.dictionary(fc.string({ maxLength: 3 }), fc.nat(), { maxKeys: 2 }),
);
const keys = [...Object.keys(WebhookEvent.shape), 'somethingNew', '__proto__', 'constructor'];
const event = fc
  .tuple(
    fc.record(
      Object.fromEntries(
        Object.entries(typical).map(([k, v]) => [
          k,
          fc.oneof({ weight: 10, arbitrary: fc.constant<unknown>(v) }, edgy),
        ]),
      ),
      {
        requiredKeys: [],
      },
    ),
    fc.dictionary(fc.constantFrom(...keys), edgy, { maxKeys: 3 }),
  )
  .map(([base, extra]) => ({ ...base, ...extra }));

describe('fast webhook event parsing', () => {
  it('takes the common event without zod', () => {
    expect(fastEvent(typical)).toEqual(WebhookEvent.parse(typical));
    expect(
      fastEvent(
        JSON.parse(JSON.stringify({ ...typical, subscriptionType: 'deal.creation', isSensitive: false })),
      ),
    ).toBeDefined();
  });

  it('answers only where zod accepts, with zod’s value', () => {
    let answered = 0;
    fc.assert(
      fc.property(event, fc.boolean(), (obj, viaJson) => {
        // Requests arrive as JSON; objects built in code (own __proto__ keys, undefined values) must be safe too.
        const raw: unknown = viaJson ? JSON.parse(JSON.stringify(obj)) : obj;
        const fast = fastEvent(raw);
        if (fast === undefined) return;
        answered++;
        const zod = WebhookEvent.safeParse(raw);
        expect(zod.success).toBe(true);
        expect(fast).toStrictEqual(zod.data);
      }),
      { numRuns: 3_000, seed: 20261125 },
    );
    // Both sides were exercised: the shortcut answered for some events and left the rest to zod.
    expect(answered).toBeGreaterThan(100);
    expect(answered).toBeLessThan(2_900);
  });

  it('leaves merges, association changes, string ids and non-plain objects to zod', () => {
    expect(fastEvent({ ...typical, subscriptionType: 'deal.merge', mergedObjectIds: [1] })).toBeUndefined();
    expect(
      fastEvent({ ...typical, subscriptionType: 'deal.associationChange', fromObjectId: 1, toObjectId: 2 }),
    ).toBeUndefined();
    expect(fastEvent({ ...typical, objectId: '40000000001' })).toBeUndefined();
    expect(fastEvent(Object.assign(Object.create(null), typical))).toBeUndefined();
    expect(fastEvent([typical])).toBeUndefined();
  });

  it('gives the batch parser the same result as zod alone', () => {
    fc.assert(
      fc.property(fc.array(event, { maxLength: 6 }), (batch) => {
        const raw = JSON.parse(JSON.stringify(batch)) as unknown[];
        const viaZod = raw.map((e) => WebhookEvent.safeParse(e));
        const parsed = parseWebhookBatch(raw);
        if (!parsed.ok) throw new Error('a batch of at most 6 events is always an array the parser takes');
        expect(parsed.events).toStrictEqual(viaZod.filter((r) => r.success).map((r) => r.data));
        expect(new Set(parsed.issues.map((i) => i.path[0]))).toEqual(
          new Set(viaZod.flatMap((r, i) => (r.success ? [] : [i]))),
        );
      }),
      { numRuns: 500, seed: 20261126 },
    );
  });

  it('refuses a schema it does not match', () => {
    expect(() => fastEventParser(['portalId'])).toThrow(/not in the schema/);
  });
});
