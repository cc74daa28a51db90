import { deflateRawSync, inflateRawSync } from 'node:zlib';

/**
 * How a deal state is stored. A tracked deal's state is its largest key (~1.4 KB of JSON, mostly field names and
 * ids repeated in entry, timer and task ids), and every active deal keeps one, so it is stored deflated against a
 * preset dictionary of what states look like: ~200-350 bytes. The first byte says which shape a value has:
 * `{` is the first shape (plain JSON, still read: states saved before this shape stay until their deal next
 * changes), `1` the deflated one.
 *
 * DICTIONARY_V1 is part of the stored format: values written with it can only be read with exactly these bytes.
 * To change it, add a DICTIONARY_V2 under a new first byte and keep reading 1.
 */
const JSON_FIRST = 0x7b; // '{'
const DEFLATE_V1 = 0x31; // '1'

// A typical state with ids zeroed (deflate finds the field names, punctuation and common values in it). Ordered
// as DealState serialises, the most repeated parts last (closest to the data, cheapest to refer back to).
const DICTIONARY_V1 = Buffer.from(
  [
    '"breachFacts":{"ownerOpenTasks":0,"capacityThreshold":0,"unansweredAttempts":0,"ownerOutsideRole":false,',
    '"noOwner":false,"missingData":[]},"inferredReason":null,"evidence":[],"paged":[],"pendingActions":[],',
    '"trail":[],"routing":{"role":"","pick":"","assignee":""},"clocks":[{"clockId":"","runId":"","startedAt":0,',
    '"stoppedAt":null,"pauses":[],"pauseKey":null,"watch":{},',
    '"from":"","to":"","mode":"","entry":"","exit":"","ownerChangesAt":[],"status":"met","status":"breached",',
    '"status":"paused","basis":"business","enteredAtSource":"webhook","closedReason":"won","closedReason":"lost",',
    '{"dealId":"00000000000","playbookVersion":1,"current":{"entryId":"00000000000::0000000000000",',
    '"pipeline":"","stage":"","enteredAt":0000000000000,"ownerRole":"","ownerAtEntry":"00000000",',
    '"sla":{"basis":"calendar","calendar":"","targetMs":000000,"targetRule":"default","status":"running",',
    '"originalDueAt":0000000000000,"dueAt":0000000000000,"warningAt":0000000000000,"consumedMs":0,',
    '"runningSince":0000000000000,"pausedAt":null,"warned":false,"breachedAt":null,"levelsFired":[],',
    '"metAt":null,"timers":[{"timerId":"00000000000::0000000000000:warning","fireAt":0000000000000},',
    '{"timerId":"00000000000::0000000000000:breach","fireAt":0000000000000},',
    '{"timerId":"00000000000::0000000000000:level:0","fireAt":0000000000000}]},',
    '"tasks":[{"key":"00000000000::0000000000000:sla","kind":"sla"},',
    '{"key":"00000000000::0000000000000:task:","kind":"task"}],"ownerChanges":[],',
    '"contactAttemptsAtEntry":0,"breachReason":null,"breachReasonSource":null,"breachEvidence":[],',
    '"enteredAtSource":"hubspot","aliasEnteredAt":[],"inputs":{"props":{},"held":{}},"pauseSeen":[]},',
    '"lastOwnerId":"00000000","breachCount":0,"backflowCount":0,"gate":{"status":"clear","missing":[],',
    '"blockedFrom":null,"blockedTo":null,"pendingStage":null,"at":null,"blockedEnteredAt":null,"taskKey":null},',
    '"closedReason":null,"seenEnteredAt":0000000000000,"pendingOwner":null,"lastBreachEntryId":null}',
  ].join(''),
);

/**
 * How a deal's key holds its state: one Redis string `<version>:<body>`, where body is `encodeDealState`'s bytes,
 * or nothing for a tombstone ("no state", with a TTL). The version sits in front so the save script and the
 * deal lock read it with a GETRANGE of a few bytes. (The first records were a hash {v: version, s: body}: a
 * hash whose value is over 64 bytes is stored as a hash table, ~160 bytes more per deal than this string.
 * They are still read, and the next save of their deal writes the string.)
 */
export const RECORD_VERSION_DIGITS = 16;

/** The version and body of a stored record, or null when the bytes do not start with `<digits>:`. */
export function decodeDealRecord(stored: Buffer): { version: number; body: Buffer } | null {
  const colon = stored.subarray(0, RECORD_VERSION_DIGITS + 1).indexOf(0x3a);
  if (colon < 1) return null;
  const digits = stored.subarray(0, colon).toString('latin1');
  if (!/^\d+$/.test(digits)) return null;
  return { version: Number(digits), body: stored.subarray(colon + 1) };
}

/** The stored bytes of a state (already validated by the caller). */
export function encodeDealState(json: string): Buffer {
  // A 4 KB window holds the dictionary and a state; zlib's default 32 KB one costs ~20 µs more per save to set up.
  // (Inflating uses the default window, which reads any smaller one.)
  const body = deflateRawSync(json, { dictionary: DICTIONARY_V1, windowBits: 12, memLevel: 5 });
  return Buffer.concat([Buffer.of(DEFLATE_V1), body]);
}

/** The state's JSON text from either stored shape; throws when the bytes are neither. */
export function decodeDealState(stored: Buffer): string {
  if (stored[0] === JSON_FIRST) return stored.toString('utf8');
  if (stored[0] === DEFLATE_V1)
    return inflateRawSync(stored.subarray(1), { dictionary: DICTIONARY_V1 }).toString('utf8');
  throw new Error('unknown deal state encoding');
}
