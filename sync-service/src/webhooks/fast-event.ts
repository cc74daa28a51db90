/**
 * A shortcut past zod for the events HubSpot sends nearly always (a deal created, changed, deleted or restored,
 * ids as JSON numbers). Zod costs ~3 µs an event, most of a 100-event request's CPU time, which is what kept the
 * webhook acknowledgement above 2x a bare server.
 *
 * It is a subset check, never a second schema: it answers only when zod would accept the event and produce the
 * same value, and returns undefined for anything else (string ids, merges, association changes, any doubt), which
 * zod then decides, with its issue paths. `fast-event.unit.test.ts` holds it to that against zod on random events.
 */
import type { WebhookEvent } from './events';

const safeUint = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const numberOrString = (v: unknown) => (typeof v === 'number' && Number.isFinite(v)) || typeof v === 'string';
const string = (v: unknown) => typeof v === 'string';

/** The fields this shortcut decides, each with a check at least as strict as the zod schema's. */
const FIELDS = new Map<string, (v: unknown) => boolean>([
  ['eventId', numberOrString],
  ['subscriptionId', numberOrString],
  ['appId', numberOrString],
  ['portalId', safeUint],
  ['occurredAt', safeUint],
  ['subscriptionType', (v) => typeof v === 'string' && v.length >= 1 && v.length <= 200],
  ['attemptNumber', safeUint],
  ['objectId', safeUint],
  ['objectTypeId', string],
  ['propertyName', string],
  ['propertyValue', () => true],
  ['changeSource', string],
  ['sourceId', (v) => v === null || typeof v === 'string'],
  ['changeFlag', string],
]);

/**
 * Fields the schema declares that this shortcut leaves to zod (merge and association ids). Passed in from the
 * schema's shape, so a field added to the schema later is zod's to check until it is added here too.
 */
export function fastEventParser(declared: readonly string[]): (raw: unknown) => WebhookEvent | undefined {
  for (const key of FIELDS.keys())
    if (!declared.includes(key)) throw new Error(`fast-event: ${key} is not in the schema`);
  const zodOnly = new Set(declared.filter((k) => !FIELDS.has(k)));

  return (raw) => {
    // JSON.parse's objects; anything else (class instances, null-prototype objects) is zod's to judge.
    if (typeof raw !== 'object' || raw === null || Object.getPrototypeOf(raw) !== Object.prototype)
      return undefined;
    const e = raw as Record<string, unknown>;
    if (
      e.portalId === undefined ||
      e.occurredAt === undefined ||
      e.subscriptionType === undefined ||
      e.objectId === undefined
    )
      return undefined;
    for (const key in e) {
      // zod drops "__proto__" from its output, where a spread would copy it.
      if (key === '__proto__' || zodOnly.has(key)) return undefined;
      const check = FIELDS.get(key);
      // Keys the schema does not declare pass through untouched, as zod's looseObject does.
      if (check && !check(e[key])) return undefined;
    }
    return { ...e, portalId: String(e.portalId), objectId: String(e.objectId) } as WebhookEvent;
  };
}
