import { isAscii } from 'node:buffer';
import {
  BREACH_REASONS,
  HistoryRowSchema,
  type ExitRange,
  type HistoryRow,
  type VisitInputs,
} from '@stagekeeper/shared';

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
/** The fields every row has (stored by position); the rest are optional. */
export const FIXED_SET: ReadonlySet<string> = new Set<string>(FIXED);

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

/**
 * Where a row's `inputs` is stored, compacted (compactInputs): most visits record no properties, no criteria, no
 * pauses and zero evidence, which spelled out took ~190 of a row's ~340 bytes, in every history row kept a year.
 * A key of its own: rows with `inputs` in full (written before) still decode as they were.
 */
const COMPACT_INPUTS = 'in';

/** The evidence the engine records for a visit with nothing to report: left out of the compacted inputs. */
const EVIDENCE_DEFAULTS = { ownerChanges: 0, noOwner: false, unansweredAttempts: 0 } as const;

const isEmptyObject = (v: unknown): boolean =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0;

/** `props` and `held` both empty, nothing else: what a stage without criteria records at entry or exit. */
function isEmptyInputsAt(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return false;
  const keys = Object.keys(v);
  const at = v as Record<string, unknown>;
  return keys.length === 2 && isEmptyObject(at['props']) && isEmptyObject(at['held']);
}

/**
 * `inputs` without what is empty or zero: entry/exit with no props or held, no pauses, no pause conditions ("[]"),
 * evidence of zeros; an absent optional (evidence, ownerChangesAt, ownerOpenTasks) is written as null, which none
 * of them can be, so expandInputs restores exactly the row given.
 */
function compactInputs(inputs: VisitInputs): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(inputs)) {
    if (v === undefined) continue;
    if ((k === 'entry' || k === 'exit') && isEmptyInputsAt(v)) continue;
    if (k === 'pauses' && Array.isArray(v) && v.length === 0) continue;
    if (k === 'pauseKey' && v === '[]') continue;
    if (k === 'evidence') {
      const evidence: Record<string, unknown> = {};
      for (const [ek, ev] of Object.entries(v as Record<string, unknown>)) {
        if (ev === undefined) continue;
        if (EVIDENCE_DEFAULTS[ek as keyof typeof EVIDENCE_DEFAULTS] === ev) continue;
        if (ek === 'ownerChangesAt' && Array.isArray(ev) && ev.length === 0) continue;
        if (ek === 'ownerOpenTasks' && ev === 0) continue;
        evidence[ek] = ev;
      }
      for (const optional of ['ownerChangesAt', 'ownerOpenTasks'])
        if ((v as Record<string, unknown>)[optional] === undefined) evidence[optional] = null;
      if (Object.keys(evidence).length > 0) out[k] = evidence;
      continue;
    }
    out[k] = v;
  }
  if (inputs.evidence === undefined) out['evidence'] = null;
  return out;
}

/** The inputs compactInputs stored, whole again (checked by the row schema afterwards, as any trailing field). */
function expandInputs(compact: unknown): unknown {
  if (typeof compact !== 'object' || compact === null || Array.isArray(compact)) return compact;
  const c = compact as Record<string, unknown>;
  const out: Record<string, unknown> = {
    ...c,
    entry: c['entry'] ?? { props: {}, held: {} },
    exit: c['exit'] ?? { props: {}, held: {} },
    pauses: c['pauses'] ?? [],
    pauseKey: c['pauseKey'] ?? '[]',
  };
  const evidence = c['evidence'];
  if (evidence === null) delete out['evidence'];
  else if (evidence === undefined || (typeof evidence === 'object' && !Array.isArray(evidence))) {
    const e: Record<string, unknown> = {
      ...EVIDENCE_DEFAULTS,
      ownerChangesAt: [],
      ownerOpenTasks: 0,
      ...(evidence as Record<string, unknown> | undefined),
    };
    for (const optional of ['ownerChangesAt', 'ownerOpenTasks']) if (e[optional] === null) delete e[optional];
    out['evidence'] = e;
  }
  return out;
}

export function encodeHistoryRow(row: HistoryRow): string {
  let extra: Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(row)) {
    if (FIXED_SET.has(k) || v === undefined) continue;
    if (k === 'inputs') (extra ??= {})[COMPACT_INPUTS] = compactInputs(v as VisitInputs);
    else (extra ??= {})[k] = v;
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

/**
 * Whether a parsed record is a row exiting outside `exits`, told from its exitedAt alone, before the row is checked
 * or built: the scorecard's second UTC week is mostly other days' rows (a damaged row out there goes uncounted,
 * as it would not be shown). Anything else goes on to rowOfArray, which counts it as corrupt or keeps it.
 */
function exitsOutside(record: unknown, exits: ExitRange | undefined): boolean {
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
    const extra = ExtraSchema.safeParse(withInputs(a[15]));
    if (!extra.success) return null;
    Object.assign(row, extra.data);
  }
  return row;
}

/** The trailing object with compacted inputs (COMPACT_INPUTS) restored to `inputs`, for the row schema. */
function withInputs(extra: unknown): unknown {
  if (typeof extra !== 'object' || extra === null || !(COMPACT_INPUTS in extra)) return extra;
  const { [COMPACT_INPUTS]: compact, ...rest } = extra as Record<string, unknown>;
  // Both spellings in one record is none the encoder writes: refused rather than one silently preferred.
  if ('inputs' in rest) return null;
  return { ...rest, inputs: expandInputs(compact) };
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
 * Records as encodeHistoryRow writes them are read straight from the chunk text (ChunkReader): no JSON.parse, no
 * intermediate array, and the few strings that repeat (pipelines, stages, roles, outcomes) shared instead of
 * copied, so a million-row week allocates about a row object and a deal id per row (JSON.parse of the chunk, then
 * a row per array, allocated several times that, and garbage collection dominated). Anything else (an escape, a
 * fraction, a trailing object of optional fields other than inputs with nothing to report, damage) goes through
 * JSON.parse and rowOfArray record by record, so only the damaged records are lost; a property test holds both
 * paths to the same answer. With `exits`, rows exiting outside are skipped as soon as their exitedAt is read,
 * before the rest of the record. With `inputs` false (the scorecard, which counts visits and never replays them),
 * rows come without their visit inputs, which are neither built nor checked: a record with properties or pauses
 * recorded then costs a JSON.parse of its trailing object, not a zod check of its inputs (~10 us a row).
 */
export function decodeHistoryChunk(
  chunk: string,
  into: HistoryRow[],
  exits?: ExitRange,
  inputs = true,
): { corrupt: number } {
  const reader = new ChunkReader(chunk, exits, inputs);
  let corrupt = 0;
  let pos = 0;
  while (pos < chunk.length) {
    const newline = chunk.indexOf(CHUNK_RECORD_END, pos);
    const end = newline === -1 ? chunk.length : newline;
    if (end > pos) {
      const fast = reader.record(pos, end);
      if (fast === SKIP) {
        // A tombstone, or a row exiting outside `exits`.
      } else if (fast !== null) into.push(fast);
      else {
        const record = chunk.slice(pos, end);
        if (!isTombstone(record)) {
          const parsed = parseArray(record);
          if (!exitsOutside(parsed, exits)) {
            const row = parsed ? rowOfArray(inputs ? parsed : withoutInputs(parsed)) : null;
            if (row) into.push(row);
            else corrupt++;
          }
        }
      }
    }
    pos = end + 1;
  }
  return { corrupt };
}

/**
 * Text is made from a chunk's bytes this much at a time, cut at record ends. A string over V8's regular object
 * size goes to its large-object space, freshly mapped each time: on these machines one 512 KB chunk made whole
 * took ~2 ms, over a third of a million-row scorecard; 32 KB pieces come from the young generation (~0.1 ms).
 */
export const TEXT_PIECE_BYTES = 32 * 1024;
/** CHUNK_RECORD_END as a byte, for readers that cut a chunk's bytes at record ends. */
export const NEWLINE = CHUNK_RECORD_END.charCodeAt(0);

/**
 * decodeHistoryChunk over a chunk as stored, its text made a piece of at most `pieceBytes` at a time (a longer
 * record makes a piece of its own). A piece ends at a record's "\n", which no multi-byte UTF-8 character
 * contains, so pieces decode to the same records as the whole; Latin-1 when the chunk is ASCII (a plain copy).
 */
export function decodeHistoryChunkBytes(
  chunk: Buffer,
  into: HistoryRow[],
  exits?: ExitRange,
  inputs = true,
  pieceBytes = TEXT_PIECE_BYTES,
): { corrupt: number } {
  const encoding = isAscii(chunk) ? 'latin1' : 'utf8';
  let corrupt = 0;
  for (let start = 0; start < chunk.length;) {
    let end = chunk.length;
    if (start + pieceBytes < chunk.length) {
      const last = chunk.lastIndexOf(NEWLINE, start + pieceBytes - 1);
      const cut = last >= start ? last : chunk.indexOf(NEWLINE, start + pieceBytes);
      if (cut !== -1) end = cut;
    }
    corrupt += decodeHistoryChunk(chunk.toString(encoding, start, end), into, exits, inputs).corrupt;
    start = end + 1;
  }
  return { corrupt };
}

/** ChunkReader's answer for a record that is no row to keep and no damage: a tombstone, or exiting outside. */
const SKIP = 1;
const QUOTE = 34;
const COMMA = 44;
const LETTER_N = 110;
const ZERO = 48;
const SPACE = 32;
const MINUS = 45;
const OPEN = 91;
const CLOSE = 93;
const BRACE = 123;
/** The end of a record whose inputs compacted to nothing (compactInputs): read without JSON.parse. */
const EMPTY_INPUTS_TAIL = `,${JSON.stringify({ [COMPACT_INPUTS]: {} })}]`;
/** Distinct values remembered per field; beyond, values are copied (the owner ids of a large team, say). */
const REMEMBERED = 32;

/**
 * Reads the records of one chunk in the exact form encodeHistoryRow writes. Answers null whenever the text is not
 * plainly that form, for JSON.parse to judge; never a row the record-by-record path would not return.
 */
class ChunkReader {
  /** Where the next backslash is: a string ending before it holds no escape. */
  private backslash: number;
  /** Values seen per field (pipeline, stage and toStage, role, owner, direction, outcome, reason), shared. */
  private readonly seen: string[][] = [[], [], [], [], [], [], []];
  /** Cursor in the record being read. */
  private i = 0;

  constructor(
    private readonly s: string,
    private readonly exits: ExitRange | undefined,
    private readonly inputs: boolean,
  ) {
    this.backslash = this.nextBackslash(0);
  }

  record(start: number, end: number): HistoryRow | typeof SKIP | null {
    const s = this.s;
    if (this.backslash < start) this.backslash = this.nextBackslash(start);
    if (s.charCodeAt(start) === ZERO) {
      for (let k = start + 1; k < end; k++) if (s.charCodeAt(k) !== SPACE) return null;
      return SKIP;
    }
    if (
      s.charCodeAt(start) !== OPEN ||
      s.charCodeAt(start + 1) !== ZERO + VERSION ||
      s.charCodeAt(start + 2) !== COMMA
    )
      return null;
    this.i = start + 3;
    const dealId = this.str(end, -1);
    if (typeof dealId !== 'string') return null;
    const pipeline = this.str(end, 0);
    if (typeof pipeline !== 'string') return null;
    const stage = this.str(end, 1);
    if (typeof stage !== 'string') return null;
    const ownerRole = this.str(end, 2);
    if (typeof ownerRole !== 'string') return null;
    const ownerId = this.str(end, 3);
    if (ownerId === undefined) return null;
    const enteredAt = this.int(end);
    if (Number.isNaN(enteredAt)) return null;
    const exitedAt = this.int(end);
    if (Number.isNaN(exitedAt)) return null;
    const exits = this.exits;
    if (exits && !(exitedAt >= exits.from && exitedAt < exits.to)) return SKIP;
    const businessMs = this.int(end);
    if (Number.isNaN(businessMs)) return null;
    const toStage = this.str(end, 1);
    if (toStage === undefined) return null;
    const direction = this.str(end, 4);
    if (!(direction === 'forward' || direction === 'backward' || direction === 'exit')) return null;
    const slaOutcome = this.str(end, 5);
    if (!(
      slaOutcome === 'met' ||
      slaOutcome === 'breached' ||
      slaOutcome === 'none' ||
      slaOutcome === 'cancelled'
    ))
      return null;
    const breachReason = this.str(end, 6);
    if (!(breachReason === null || (typeof breachReason === 'string' && REASONS.has(breachReason))))
      return null;
    // breachedAt: false (absent), null or a number.
    let breachedAt: number | null | typeof ABSENT;
    if (s.startsWith('false,', this.i)) {
      breachedAt = ABSENT;
      this.i += 6;
    } else if (s.startsWith('null,', this.i)) {
      breachedAt = null;
      this.i += 5;
    } else {
      breachedAt = this.int(end);
      if (Number.isNaN(breachedAt)) return null;
    }
    // breachReasonSource: false (absent), null, "inferred" or "manual"; then the array's end.
    let source: HistoryRow['breachReasonSource'] | typeof ABSENT;
    if (s.startsWith('false', this.i)) {
      source = ABSENT;
      this.i += 5;
    } else if (s.startsWith('null', this.i)) {
      source = null;
      this.i += 4;
    } else if (s.startsWith('"inferred"', this.i)) {
      source = 'inferred';
      this.i += 10;
    } else if (s.startsWith('"manual"', this.i)) {
      source = 'manual';
      this.i += 8;
    } else return null;
    // Inputs with nothing to report (the common visit) are read here; any other trailing object of optional
    // fields is left to JSON.parse and the schema, as is anything else.
    let plainInputs = false;
    let extra: Record<string, unknown> | undefined;
    if (this.i + EMPTY_INPUTS_TAIL.length === end && s.startsWith(EMPTY_INPUTS_TAIL, this.i)) {
      plainInputs = this.inputs;
      this.i = end - 1;
    } else if (!this.inputs && s.charCodeAt(this.i) === COMMA && s.charCodeAt(this.i + 1) === BRACE) {
      // Rows read without inputs: their trailing object parsed alone, inputs dropped unchecked, the rest checked.
      const rest = extraWithoutInputs(s.slice(this.i + 1, end - 1));
      if (rest === null) return null;
      extra = rest;
      this.i = end - 1;
    }
    if (s.charCodeAt(this.i) !== CLOSE || this.i + 1 !== end) return null;
    // The same row the array reader above builds, spelled again on purpose: a shared builder would cost the
    // scorecard's read an object per row; the damaged-text property test holds the two readers equal.
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
    if (breachedAt !== ABSENT) row.breachedAt = breachedAt;
    if (source !== ABSENT) row.breachReasonSource = source;
    if (plainInputs) row.inputs = expandInputs({}) as VisitInputs;
    if (extra) Object.assign(row, extra);
    return row;
  }

  private nextBackslash(from: number): number {
    const at = this.s.indexOf('\\', from);
    return at === -1 ? this.s.length : at;
  }

  /**
   * A string or null at the cursor and the comma after it (a closing bracket instead is the caller's to check);
   * undefined when the text is not plainly one. `field`: whose seen values to share (-1: none, a deal id).
   */
  private str(end: number, field: number): string | null | undefined {
    const s = this.s;
    const i = this.i;
    const c = s.charCodeAt(i);
    if (c === LETTER_N) {
      if (!s.startsWith('null,', i)) return undefined;
      this.i = i + 5;
      return null;
    }
    if (c !== QUOTE) return undefined;
    const seen = field < 0 ? undefined : this.seen[field]!;
    if (seen)
      // A value seen before, followed by the closing quote and the comma, is that value: seen values hold no quote
      // and no backslash, so the string cannot go on past them. No search for the quote, no copy.
      for (let k = 0; k < seen.length; k++) {
        const v = seen[k]!;
        const after = i + 1 + v.length;
        if (
          after < end &&
          s.charCodeAt(after) === QUOTE &&
          s.charCodeAt(after + 1) === COMMA &&
          s.startsWith(v, i + 1)
        ) {
          this.i = after + 2;
          return v;
        }
      }
    const close = s.indexOf('"', i + 1);
    if (close === -1 || close >= end || close > this.backslash) return undefined;
    if (s.charCodeAt(close + 1) !== COMMA) return undefined;
    // JSON refuses raw control characters in a string: such a record goes to JSON.parse to be refused.
    for (let k = i + 1; k < close; k++) if (s.charCodeAt(k) < SPACE) return undefined;
    const value = s.slice(i + 1, close);
    if (seen && seen.length < REMEMBERED) seen.push(value);
    this.i = close + 2;
    return value;
  }

  /** A plain integer at the cursor (digits, maybe a minus: JSON's form) and the comma after it; NaN otherwise. */
  private int(end: number): number {
    const s = this.s;
    let i = this.i;
    const negative = s.charCodeAt(i) === MINUS;
    if (negative) i++;
    const first = i;
    let n = 0;
    for (; i < end; i++) {
      const d = s.charCodeAt(i) - ZERO;
      if (d < 0 || d > 9) break;
      n = n * 10 + d;
    }
    const digits = i - first;
    // None, more than a double holds exactly, a leading zero (not JSON), or no comma after: JSON.parse judges.
    if (
      digits === 0 ||
      digits > 15 ||
      (digits > 1 && s.charCodeAt(first) === ZERO) ||
      s.charCodeAt(i) !== COMMA
    )
      return NaN;
    this.i = i + 1;
    return negative ? -n : n;
  }
}

/**
 * A record's trailing object (its text) without its inputs in either spelling, checked as rowOfArray checks it;
 * null when it is not valid (the record-by-record path then judges the whole record the same way).
 */
function extraWithoutInputs(text: string): Record<string, unknown> | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  const stripped = stripInputs(parsed);
  if (typeof stripped !== 'object' || stripped === null || Array.isArray(stripped)) return null;
  if (Object.keys(stripped).length === 0) return {};
  const checked = ExtraSchema.safeParse(stripped);
  return checked.success ? checked.data : null;
}

/** The trailing object without `inputs` / `in` (anything else as it is, for the schema to judge). */
function stripInputs(extra: unknown): unknown {
  if (typeof extra !== 'object' || extra === null || Array.isArray(extra)) return extra;
  if (!('inputs' in extra) && !(COMPACT_INPUTS in extra)) return extra;
  const { inputs: _inputs, [COMPACT_INPUTS]: _compact, ...rest } = extra as Record<string, unknown>;
  return rest;
}

/** A parsed record read without its inputs: the reference the fast reader is held to in that mode. */
function withoutInputs(a: unknown[]): unknown[] {
  return a.length === 16 ? [...a.slice(0, 15), stripInputs(a[15])] : a;
}

/**
 * One record read alone (the card reads its deal's records by offset): the row, or null if not a valid row. With
 * `inputs` false, the row without its inputs, unchecked: the reference decodeHistoryChunk's mode is held to.
 */
export function decodeChunkRecord(record: string, inputs = true): HistoryRow | null {
  const parsed = parseArray(record);
  return parsed ? rowOfArray(inputs ? parsed : withoutInputs(parsed)) : null;
}

/** A superseded record: "0" and spaces (see CHUNK_RECORD_END). */
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
