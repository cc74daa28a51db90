import { BREACH_REASONS, HistoryRowSchema, type HistoryRow } from '@stagekeeper/shared';

/**
 * How a stage history row is stored. Rows used to be the row's JSON object, checked with zod on read: ~420 bytes
 * and ~15 us a row, which made the scorecard's read of a busy week take seconds. New rows are a positional JSON
 * array (version first) holding the fields every row has, with the optional rest in a trailing object: about half
 * the bytes, and the fixed part is checked by hand (a few typeof tests) instead of by zod. Old rows (a JSON
 * object) still decode, through zod as before.
 */

const VERSION = 1;
const REASONS = new Set<string>(BREACH_REASONS);
/** Marks breachedAt / breachReasonSource absent (rows written before them): neither can be `false`. */
const ABSENT = false;

/** Fields stored by position; every other field of the row goes into the trailing object. */
const FIXED = [
  'dealId',
  'pipeline',
  'stage',
  'ownerRole',
  'ownerId',
  'enteredAt',
  'exitedAt',
  'businessMs',
  'toStage',
  'direction',
  'slaOutcome',
  'breachReason',
  'breachedAt',
  'breachReasonSource',
] as const satisfies readonly (keyof HistoryRow)[];
const FIXED_SET = new Set<string>(FIXED);

/** The optional fields, checked with their own part of the row schema (only present on some rows). */
const ExtraSchema = HistoryRowSchema.omit({
  dealId: true,
  pipeline: true,
  stage: true,
  ownerRole: true,
  ownerId: true,
  enteredAt: true,
  exitedAt: true,
  businessMs: true,
  toStage: true,
  direction: true,
  slaOutcome: true,
  breachReason: true,
  breachedAt: true,
  breachReasonSource: true,
});

export function encodeHistoryRow(row: HistoryRow): string {
  let extra: Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(row)) {
    if (FIXED_SET.has(k) || v === undefined) continue;
    (extra ??= {})[k] = v;
  }
  const out: unknown[] = [
    VERSION,
    row.dealId,
    row.pipeline,
    row.stage,
    row.ownerRole,
    row.ownerId,
    row.enteredAt,
    row.exitedAt,
    row.businessMs,
    row.toStage,
    row.direction,
    row.slaOutcome,
    row.breachReason,
    row.breachedAt === undefined ? ABSENT : row.breachedAt,
    row.breachReasonSource === undefined ? ABSENT : row.breachReasonSource,
  ];
  if (extra) out.push(extra);
  return JSON.stringify(out);
}

/** The row, or null when the value is not a valid row in either encoding (the caller counts it as corrupt). */
export function decodeHistoryRow(value: string): HistoryRow | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return null;
  }
  if (!Array.isArray(parsed)) {
    const legacy = HistoryRowSchema.safeParse(parsed);
    return legacy.success ? legacy.data : null;
  }
  return rowOfArray(parsed);
}

/** Exits kept by a filtered chunk decode: from (inclusive) to (exclusive), epoch ms. */
type Exits = { from: number; to: number };

/**
 * Whether a parsed record is a row exiting outside `exits`, told from its exitedAt alone, before the row is checked
 * or built: the scorecard's second UTC week is mostly other days' rows (a damaged row out there goes uncounted,
 * as it would not be shown). Anything else goes on to rowOfArray, which counts it as corrupt or keeps it.
 */
function exitsOutside(record: unknown, exits: Exits | undefined): boolean {
  if (!exits || !Array.isArray(record)) return false;
  const exitedAt: unknown = record[7];
  return (
    typeof exitedAt === 'number' && !(exitedAt >= exits.from && exitedAt < exits.to) && record[0] === VERSION
  );
}

/** A row of the positional encoding, already parsed, checked by hand (null when it is not one). */
function rowOfArray(a: unknown[]): HistoryRow | null {
  if (a[0] !== VERSION || a.length < 15 || a.length > 16) return null;
  // Indexed reads, no destructuring or slices: this runs once per row of a million-row scorecard.
  const dealId = a[1];
  const pipeline = a[2];
  const stage = a[3];
  const ownerRole = a[4];
  const ownerId = a[5];
  const enteredAt = a[6];
  const exitedAt = a[7];
  const businessMs = a[8];
  const toStage = a[9];
  const direction = a[10];
  const slaOutcome = a[11];
  const breachReason = a[12];
  const breachedAt = a[13];
  const source = a[14];
  if (
    typeof dealId !== 'string' ||
    typeof pipeline !== 'string' ||
    typeof stage !== 'string' ||
    typeof ownerRole !== 'string' ||
    !(ownerId === null || typeof ownerId === 'string') ||
    typeof enteredAt !== 'number' ||
    typeof exitedAt !== 'number' ||
    typeof businessMs !== 'number' ||
    !(toStage === null || typeof toStage === 'string') ||
    !(direction === 'forward' || direction === 'backward' || direction === 'exit') ||
    !(
      slaOutcome === 'met' ||
      slaOutcome === 'breached' ||
      slaOutcome === 'none' ||
      slaOutcome === 'cancelled'
    ) ||
    !(breachReason === null || REASONS.has(breachReason as string)) ||
    !(breachedAt === ABSENT || breachedAt === null || typeof breachedAt === 'number') ||
    !(source === ABSENT || source === null || source === 'inferred' || source === 'manual')
  )
    return null;
  const row = {
    dealId,
    pipeline,
    stage,
    ownerRole,
    ownerId,
    enteredAt,
    exitedAt,
    businessMs,
    toStage,
    direction,
    slaOutcome,
    breachReason,
  } as HistoryRow;
  if (breachedAt !== ABSENT) row.breachedAt = breachedAt as number | null;
  if (source !== ABSENT) row.breachReasonSource = source as HistoryRow['breachReasonSource'];
  if (a.length === 16) {
    const extra = ExtraSchema.safeParse(a[15]);
    if (!extra.success) return null;
    Object.assign(row, extra.data);
  }
  return row;
}

/**
 * The scorecard's packed form: a chunk is many rows, each the positional encoding above followed by "\n" (which
 * JSON.stringify never leaves inside a row), so a whole chunk decodes with one JSON.parse instead of one per row.
 * A superseded row (a replayed or corrected visit, rewritten further on) is overwritten in place by a tombstone of
 * the same length: "0" and spaces, which parses as the number 0 and is skipped.
 */
export const CHUNK_RECORD_END = '\n';

/** What is appended to a chunk for `row`. */
export function encodeChunkRecord(row: HistoryRow): string {
  return encodeHistoryRow(row) + CHUNK_RECORD_END;
}

/**
 * Every row of a chunk, in the order written, and how many records were not valid rows (tombstones are neither).
 * One JSON.parse over the chunk; if the chunk is damaged, record by record so only the damaged rows are lost.
 */
export function decodeHistoryChunk(chunk: string, into: HistoryRow[], exits?: Exits): { corrupt: number } {
  if (exits) chunk = recordsMaybeExiting(chunk, exits);
  if (chunk.length === 0) return { corrupt: 0 };
  let records: unknown[] | undefined;
  try {
    const parsed: unknown = JSON.parse(`[${chunk.slice(0, -1).replaceAll(CHUNK_RECORD_END, ',')}]`);
    if (Array.isArray(parsed) && chunk.endsWith(CHUNK_RECORD_END)) records = parsed;
  } catch {
    records = undefined;
  }
  let corrupt = 0;
  if (records) {
    for (const record of records) {
      if (record === TOMBSTONE_VALUE || exitsOutside(record, exits)) continue;
      const row = Array.isArray(record) ? rowOfArray(record) : null;
      if (row) into.push(row);
      else corrupt++;
    }
    return { corrupt };
  }
  for (const record of chunk.split(CHUNK_RECORD_END)) {
    if (record.length === 0 || isTombstone(record)) continue;
    const parsed = parseArray(record);
    if (exitsOutside(parsed, exits)) continue;
    const row = parsed ? rowOfArray(parsed) : null;
    if (row) into.push(row);
    else corrupt++;
  }
  return { corrupt };
}

/**
 * The records of `chunk` whose exit may fall in `exits`, as chunk text: those whose exitedAt, read from the text,
 * is outside are cut before JSON.parse, which costs far more than this look (the scorecard's second UTC week is
 * mostly other days' rows). A record whose exit cannot be read that way (a tombstone, a damaged record) is kept
 * for the parser to judge. The chunk itself when every record is kept.
 */
function recordsMaybeExiting(chunk: string, exits: Exits): string {
  const parts: string[] = [];
  let run = 0;
  let pos = 0;
  while (pos < chunk.length) {
    const newline = chunk.indexOf(CHUNK_RECORD_END, pos);
    const end = newline === -1 ? chunk.length : newline + 1;
    const exit = exitOfRecord(chunk, pos, end);
    if (exit < exits.from || exit >= exits.to) {
      if (pos > run) parts.push(chunk.slice(run, pos));
      run = end;
    }
    pos = end;
  }
  if (run === 0) return chunk;
  if (run < chunk.length) parts.push(chunk.slice(run));
  return parts.join('');
}

const QUOTE = 34;
const BACKSLASH = 92;
const COMMA = 44;
const LETTER_N = 110;

/**
 * exitedAt of the record at [start, end) of a chunk, read from its text as encodeHistoryRow writes it: "[1,", five
 * strings or nulls, enteredAt, exitedAt. NaN when the text is not plainly that (then the record is parsed).
 */
function exitOfRecord(s: string, start: number, end: number): number {
  // "[1," : the array opens with VERSION.
  if (
    s.charCodeAt(start) !== 91 ||
    s.charCodeAt(start + 1) !== 48 + VERSION ||
    s.charCodeAt(start + 2) !== COMMA
  )
    return NaN;
  let i = start + 3;
  for (let field = 0; field < 5; field++) {
    const c = s.charCodeAt(i);
    if (c === QUOTE) {
      // The closing quote found natively; one after a backslash may be escaped: left to the parser.
      const close = s.indexOf('"', i + 1);
      if (close === -1 || close >= end || s.charCodeAt(close - 1) === BACKSLASH) return NaN;
      i = close + 1;
    } else if (c === LETTER_N && s.startsWith('null', i)) i += 4;
    else return NaN;
    if (s.charCodeAt(i) !== COMMA) return NaN;
    i++;
  }
  // enteredAt: a number's characters up to the comma.
  const entered = i;
  for (; i < end; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || c === 45 || c === 46 || c === 43 || c === 101 || c === 69)) break;
  }
  if (i === entered || s.charCodeAt(i) !== COMMA) return NaN;
  // exitedAt: epoch ms are plain digits; anything else (a sign, a fraction, an exponent) is left to the parser.
  let n = 0;
  const first = ++i;
  for (; i < end; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) break;
    n = n * 10 + d;
  }
  return i > first && i - first <= 15 && s.charCodeAt(i) === COMMA ? n : NaN;
}

/** One record read alone (the card reads its deal's records by offset): the row, or null if not a valid row. */
export function decodeChunkRecord(record: string): HistoryRow | null {
  const parsed = parseArray(record);
  return parsed ? rowOfArray(parsed) : null;
}

/** What a tombstone parses to: see CHUNK_RECORD_END. */
const TOMBSTONE_VALUE = 0;

function isTombstone(record: string): boolean {
  return /^0 *$/.test(record);
}

function parseArray(record: string): unknown[] | null {
  try {
    const parsed: unknown = JSON.parse(record);
    return Array.isArray(parsed) ? parsed : null;
  } catch {
    return null;
  }
}
