import { P } from '@stagekeeper/shared';
import { describe, expect, it } from 'vitest';
import { MAX_EVENTS_PER_REQUEST, parseWebhookBatch, routeEvent, type WebhookEvent } from './events';

const base = {
  eventId: 1,
  subscriptionId: 2,
  portalId: 62515,
  appId: 3,
  occurredAt: 1_700_000_000_000,
  attemptNumber: 0,
};
const parseOne = (e: Record<string, unknown>): WebhookEvent => {
  const r = parseWebhookBatch([e]);
  if (!r.ok || r.events.length !== 1) throw new Error(JSON.stringify(r.issues));
  return r.events[0]!;
};

describe('parseWebhookBatch', () => {
  it('refuses a non-array and too many events', () => {
    expect(parseWebhookBatch({})).toMatchObject({
      ok: false,
      issues: [{ message: 'expected a JSON array of events' }],
    });
    const many = Array.from({ length: MAX_EVENTS_PER_REQUEST + 1 }, () => ({
      ...base,
      subscriptionType: 'deal.creation',
      objectId: 1,
    }));
    expect(parseWebhookBatch(many).ok).toBe(false);
  });

  it('keeps valid events and reports invalid ones with index-prefixed paths', () => {
    const r = parseWebhookBatch([
      { ...base, subscriptionType: 'deal.creation', objectId: 10 },
      { ...base, subscriptionType: 'deal.creation', objectId: 'abc' },
      'not an event',
      { ...base, subscriptionType: 'deal.propertyChange' },
    ]);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.events.map((e) => e.objectId)).toEqual(['10']);
    expect(r.issues.map((i) => i.path[0])).toEqual([1, 2, 3]);
    expect(r.issues[0]!.path).toEqual([1, 'objectId']);
  });

  it('accepts numeric-string ids and passes unknown fields through', () => {
    const e = parseOne({
      ...base,
      portalId: '62515',
      subscriptionType: 'deal.creation',
      objectId: '77',
      somethingNew: true,
    });
    expect(e.portalId).toBe('62515');
    expect((e as Record<string, unknown>).somethingNew).toBe(true);
  });
});

describe('routeEvent', () => {
  it('routes deal.* events to their deal', () => {
    for (const t of ['creation', 'deletion', 'propertyChange', 'restore']) {
      expect(
        routeEvent(
          parseOne({ ...base, subscriptionType: `deal.${t}`, objectId: 5, propertyName: 'dealstage' }),
        ),
      ).toEqual({
        kind: 'deal',
        portalId: '62515',
        dealIds: ['5'],
      });
    }
  });

  it('routes object.* events only for deals (objectTypeId 0-3)', () => {
    expect(
      routeEvent(
        parseOne({ ...base, subscriptionType: 'object.propertyChange', objectTypeId: '0-3', objectId: 9 }),
      ),
    ).toMatchObject({ dealIds: ['9'] });
    expect(
      routeEvent(
        parseOne({ ...base, subscriptionType: 'object.propertyChange', objectTypeId: '0-1', objectId: 9 }),
      ),
    ).toEqual({ kind: 'ignored', reason: 'not_deal' });
  });

  it('routes an object.* event without objectTypeId as a deal, flagged incomplete (never dropped silently)', () => {
    expect(routeEvent(parseOne({ ...base, subscriptionType: 'object.creation', objectId: 9 }))).toEqual({
      kind: 'deal',
      portalId: '62515',
      dealIds: ['9'],
      incomplete: 'object_type_missing',
    });
  });

  it('ignores other objects and unknown subscription types', () => {
    expect(routeEvent(parseOne({ ...base, subscriptionType: 'contact.creation', objectId: 1 }))).toEqual({
      kind: 'ignored',
      reason: 'not_deal',
    });
    expect(routeEvent(parseOne({ ...base, subscriptionType: 'deal.somethingNew', objectId: 1 }))).toEqual({
      kind: 'ignored',
      reason: 'unknown_type',
    });
    expect(routeEvent(parseOne({ ...base, subscriptionType: 'weird', objectId: 1 }))).toEqual({
      kind: 'ignored',
      reason: 'unknown_type',
    });
  });

  it('skips echoes of Stagekeeper’s own written-back properties but not dealstage', () => {
    expect(
      routeEvent(
        parseOne({
          ...base,
          subscriptionType: 'deal.propertyChange',
          objectId: 1,
          propertyName: P.slaStatus,
        }),
      ),
    ).toEqual({ kind: 'ignored', reason: 'own_write' });
    expect(
      routeEvent(
        parseOne({
          ...base,
          subscriptionType: 'deal.propertyChange',
          objectId: 1,
          propertyName: 'dealstage',
        }),
      ).kind,
    ).toBe('deal');
  });

  it("takes a person's change of the breach reason as their edit, and anything else written back as an echo", () => {
    const change = (propertyName: string, source: Record<string, string>) =>
      routeEvent(
        parseOne({
          ...base,
          subscriptionType: 'object.propertyChange',
          objectTypeId: '0-3',
          objectId: 7,
          propertyName,
          propertyValue: 'capacity',
          ...source,
        }),
      );
    const byUser = { changeSource: 'CRM_UI', sourceId: 'userId:45678' };
    expect(change(P.breachReason, byUser)).toEqual({
      kind: 'reasonEdit',
      edit: { portalId: '62515', dealId: '7', userId: '45678', at: base.occurredAt },
    });
    // Stagekeeper's own write (the app's API call) names no user.
    expect(change(P.breachReason, { changeSource: 'API', sourceId: '3' })).toEqual({
      kind: 'ignored',
      reason: 'own_write',
    });
    expect(change(P.breachReason, {})).toEqual({ kind: 'ignored', reason: 'own_write' });
    // Only the reason is a person's to correct: the other written-back properties stay echoes, whoever changed them.
    expect(change(P.slaStatus, byUser)).toEqual({ kind: 'ignored', reason: 'own_write' });
    expect(change(P.breachReasonSource, byUser)).toEqual({ kind: 'ignored', reason: 'own_write' });
  });

  it('enqueues both the surviving and the merged deals of a merge', () => {
    const r = routeEvent(
      parseOne({
        ...base,
        subscriptionType: 'deal.merge',
        objectId: 100,
        primaryObjectId: 100,
        mergedObjectIds: [200, 300],
        newObjectId: 100,
      }),
    );
    expect(r).toEqual({ kind: 'deal', portalId: '62515', dealIds: ['100', '200', '300'] });
  });

  it('takes the deal side of association changes', () => {
    expect(
      routeEvent(
        parseOne({
          ...base,
          subscriptionType: 'deal.associationChange',
          associationType: 'DEAL_TO_CONTACT',
          fromObjectId: 4,
          toObjectId: 8,
        }),
      ),
    ).toMatchObject({ dealIds: ['4'] });
    expect(
      routeEvent(
        parseOne({
          ...base,
          subscriptionType: 'deal.associationChange',
          associationType: 'CONTACT_TO_DEAL',
          fromObjectId: 8,
          toObjectId: 4,
        }),
      ),
    ).toMatchObject({ dealIds: ['4'] });
  });
});
