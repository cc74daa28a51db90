import { P } from '@stagekeeper/shared';
import { z } from 'zod';
import type { ReasonEdit } from '../reasons/hubspot-edit';
import { fastEventParser } from './fast-event';

/**
 * HubSpot v3 webhook events. Events are hints that "deal X changed": the worker re-reads the deal, so this
 * schema checks only what routing needs and lets every other field through untouched.
 */

/** HubSpot sends ids as JSON numbers; strings of digits are accepted too and everything downstream uses strings. */
const Id = z
  .union([z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER), z.string().regex(/^\d{1,20}$/)])
  .transform(String);

export const DEAL_OBJECT_TYPE_ID = '0-3';

export const WebhookEvent = z
  .looseObject({
    eventId: z.union([z.number(), z.string()]).optional(),
    subscriptionId: z.union([z.number(), z.string()]).optional(),
    portalId: Id,
    appId: z.union([z.number(), z.string()]).optional(),
    occurredAt: z.number().int().nonnegative(),
    subscriptionType: z.string().min(1).max(200),
    attemptNumber: z.number().int().nonnegative().optional(),
    objectId: Id.optional(),
    objectTypeId: z.string().optional(),
    propertyName: z.string().optional(),
    // The value itself is never read or logged; only its presence is HubSpot's business.
    propertyValue: z.unknown().optional(),
    changeSource: z.string().optional(),
    sourceId: z.string().nullable().optional(),
    changeFlag: z.string().optional(),
    primaryObjectId: Id.optional(),
    mergedObjectIds: z.array(Id).optional(),
    newObjectId: Id.optional(),
    associationType: z.string().optional(),
    fromObjectId: Id.optional(),
    toObjectId: Id.optional(),
  })
  .refine((e) => e.objectId !== undefined || e.fromObjectId !== undefined, {
    message: 'expected objectId (or fromObjectId for association changes)',
    path: ['objectId'],
  });
export type WebhookEvent = z.infer<typeof WebhookEvent>;

const fastEvent = fastEventParser(Object.keys(WebhookEvent.shape));

/** HubSpot sends at most 100 events a request; the margin tolerates a future change without opening a DoS door. */
export const MAX_EVENTS_PER_REQUEST = 1000;

export type EventIssue = { path: (string | number)[]; message: string };

export type ParsedBatch =
  { ok: true; events: WebhookEvent[]; issues: EventIssue[] } | { ok: false; issues: EventIssue[] };

/**
 * Validates each event on its own: one malformed event must not cost the valid ones next to it, since a
 * redelivery of the same batch would fail the same way.
 */
export function parseWebhookBatch(body: unknown): ParsedBatch {
  if (!Array.isArray(body))
    return { ok: false, issues: [{ path: [], message: 'expected a JSON array of events' }] };
  if (body.length > MAX_EVENTS_PER_REQUEST)
    return {
      ok: false,
      issues: [
        { path: [], message: `expected at most ${MAX_EVENTS_PER_REQUEST} events, got ${body.length}` },
      ],
    };
  const events: WebhookEvent[] = [];
  const issues: EventIssue[] = [];
  body.forEach((raw, index) => {
    const fast = fastEvent(raw);
    if (fast) return void events.push(fast);
    const parsed = WebhookEvent.safeParse(raw);
    if (parsed.success) events.push(parsed.data);
    else
      for (const i of parsed.error.issues)
        issues.push({
          path: [index, ...i.path.map((p) => (typeof p === 'symbol' ? String(p) : p))],
          message: i.message,
        });
  });
  return { ok: true, events, issues };
}

const DEAL_ACTIONS = new Set([
  'creation',
  'deletion',
  'propertyChange',
  'merge',
  'restore',
  'associationChange',
]);
const OWN_PROPERTIES: ReadonlySet<string> = new Set(Object.values(P));

export type IgnoreReason = 'unknown_type' | 'not_deal' | 'own_write' | 'no_deal_id';
export type EventRoute =
  /** `incomplete`: routed on an assumption (an `object.*` event without `objectTypeId`); worth a warning. */
  | { kind: 'deal'; portalId: string; dealIds: string[]; incomplete?: 'object_type_missing' }
  /** A person changed the written-back breach reason in HubSpot (reasons/hubspot-edit.ts). */
  | { kind: 'reasonEdit'; edit: ReasonEdit }
  | { kind: 'ignored'; reason: IgnoreReason };

/** The HubSpot user a change is attributed to: `sourceId` "userId:45678" (facts §4); our own writes name none. */
const USER_SOURCE = /^userId:(\d{1,20})$/;

/**
 * Ignore reasons that mean HubSpot sent something this service does not understand (a new event type, an event
 * without the id it needs): counted as `unrecognised` and logged at warn, so a platform change is noticed. Other
 * objects' events and our own write-backs are expected and stay quiet.
 */
export const UNRECOGNISED_REASONS: ReadonlySet<IgnoreReason> = new Set(['unknown_type', 'no_deal_id']);

/** Which deals an event touches, or why it needs no work. */
export function routeEvent(e: WebhookEvent): EventRoute {
  const dot = e.subscriptionType.indexOf('.');
  const objectType = dot > 0 ? e.subscriptionType.slice(0, dot) : '';
  const action = dot > 0 ? e.subscriptionType.slice(dot + 1) : '';
  // The app subscribes through crmObjects to deals only, so an `object.*` event without objectTypeId is taken
  // as a deal (a reconcile of an id that is no deal is a harmless read) and flagged, never dropped.
  let incomplete = false;
  if (objectType === 'object') {
    if (e.objectTypeId === undefined) incomplete = true;
    else if (e.objectTypeId !== DEAL_OBJECT_TYPE_ID) return { kind: 'ignored', reason: 'not_deal' };
  } else if (objectType !== 'deal') {
    return objectType ? { kind: 'ignored', reason: 'not_deal' } : { kind: 'ignored', reason: 'unknown_type' };
  }
  if (!DEAL_ACTIONS.has(action)) return { kind: 'ignored', reason: 'unknown_type' };

  // Our own write-backs echo back as property changes; the engine would shrug them off, this saves the round trip.
  // The breach reason is the one a person may correct in HubSpot: their change is a rep's reason, not an echo.
  if (action === 'propertyChange' && e.propertyName && OWN_PROPERTIES.has(e.propertyName)) {
    const user = e.propertyName === P.breachReason ? USER_SOURCE.exec(e.sourceId ?? '') : null;
    if (user && e.objectId)
      return {
        kind: 'reasonEdit',
        edit: { portalId: e.portalId, dealId: e.objectId, userId: user[1]!, at: e.occurredAt },
      };
    return { kind: 'ignored', reason: 'own_write' };
  }

  const ids = new Set<string>();
  if (action === 'merge') {
    // Both sides: the survivor picks up the merged deal's journey, the merged one must cancel its clocks.
    for (const id of [e.objectId, e.primaryObjectId, e.newObjectId, ...(e.mergedObjectIds ?? [])])
      if (id) ids.add(id);
  } else if (action === 'associationChange') {
    const t = (e.associationType ?? '').toUpperCase();
    const dealSide =
      t.endsWith('_TO_DEAL') && !t.startsWith('DEAL_TO_') ? e.toObjectId : (e.fromObjectId ?? e.objectId);
    if (dealSide) ids.add(dealSide);
  } else if (e.objectId) {
    ids.add(e.objectId);
  }
  if (ids.size === 0) return { kind: 'ignored', reason: 'no_deal_id' };
  return {
    kind: 'deal',
    portalId: e.portalId,
    dealIds: [...ids],
    ...(incomplete ? { incomplete: 'object_type_missing' as const } : {}),
  };
}
