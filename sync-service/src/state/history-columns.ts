import type { ClassedRows, ExitRange, HistoryRow } from '@stagekeeper/shared';
import { decodeChunkRecord, encodeHistoryRow, FIXED_SET } from './history-row-codec';

/**
 * A sealed history chunk's rows laid out for the scorecard (the chunk's columns), beside its text. Reading a
 * million rows from text cost ~2-4 s here, nearly all of it spent finding and copying each row's fields and
 * collecting the garbage that left; the scorecard needs the same dozen values of every row, most of them shared
 * by thousands of rows. So each row is split into its class (everything but its deal and its times, shared by
 * the rows that have it in common, checked once) and its own values, stored as numbers:
 *
 *   "SKC1" | u32 header bytes | header JSON {t: chunk text length, s: text id, c: [class record], d: the deal
 *   ids, joined} | zero padding to a multiple of 8 | f64 columns of enteredAt, exitedAt, businessMs and breachedAt
 *   (each a value per row) | u32 class index per row | u32 deal id length per row | the text id again (ID_BYTES)
 *
 * A class record is the row's own text record (history-row-codec.ts) with an empty deal id, zero times and
 * breachedAt null when the row has one, so it is checked on read by the same code as a text record. breachedAt
 * NaN is null. The text id (the SHA-1 of the chunk text, hex) at both ends lets a reader that reads the value in
 * pieces see that all of them came from one value: a chunk's text only ever gains tombstones, so its columns,
 * once replaced, never come back. The deal ids are one string cut by their lengths: JSON.parse of a list of
 * 200,000 short strings took ~75 ms, more than the rest of the decoding. Rows carry no visit inputs: the columns
 * are for readers that never replay visits (inputs false). Little endian (typed arrays take the platform's
 * order: on a big-endian one, columns are never read). A value that is not plainly this layout decodes as null,
 * and the reader falls back to the chunk's text.
 *
 * Why not a serialisation library (msgpackr is already installed, with BullMQ): it would decode an object per
 * row again; typed-array views of the reply are what make the read cheap.
 */

const MAGIC = 'SKC1';
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const VALUES_PER_ROW = 4;
/** The doubles, then the class index and the deal id length. */
const ROW_BYTES = VALUES_PER_ROW * 8 + 2 * 4;
/** A text id: a SHA-1 in hex. */
const ID_BYTES = 40;
const ID = /^[0-9a-f]{40}$/;

/**
 * The columns of `rows` (a chunk's rows in the order written, decoded without inputs) of a chunk text `textLength`
 * long whose SHA-1 (hex) is `id`.
 */
export function encodeChunkColumns(
  rows: readonly HistoryRow[],
  text: { length: number; id: string },
): Buffer {
  if (!ID.test(text.id)) throw new Error('a text id is a SHA-1 in hex');
  const classes: string[] = [];
  const classIndex = new Map<string, number>();
  const deals: string[] = [];
  const n = rows.length;
  const values = new Float64Array(n * VALUES_PER_ROW);
  const ints = new Uint32Array(n * 2);
  rows.forEach((row, i) => {
    const record = encodeHistoryRow({
      ...row,
      dealId: '',
      enteredAt: 0,
      exitedAt: 0,
      businessMs: 0,
      breachedAt: row.breachedAt === undefined ? undefined : null,
      inputs: undefined,
    });
    let c = classIndex.get(record);
    if (c === undefined) {
      c = classes.length;
      classes.push(record);
      classIndex.set(record, c);
    }
    deals.push(row.dealId);
    values[i] = row.enteredAt;
    values[n + i] = row.exitedAt;
    values[2 * n + i] = row.businessMs;
    values[3 * n + i] = row.breachedAt ?? NaN;
    ints[i] = c;
    ints[n + i] = row.dealId.length;
  });
  const header = Buffer.from(
    JSON.stringify({ t: text.length, s: text.id, c: classes, d: deals.join('') }),
    'utf8',
  );
  const start = align8(8 + header.length);
  const out = Buffer.alloc(start + values.byteLength + ints.byteLength + ID_BYTES);
  out.write(MAGIC, 0, 'latin1');
  out.writeUInt32LE(header.length, 4);
  header.copy(out, 8);
  Buffer.from(values.buffer).copy(out, start);
  Buffer.from(ints.buffer).copy(out, start + values.byteLength);
  out.write(text.id, out.length - ID_BYTES, 'latin1');
  return out;
}

/** A class, checked: the row it describes with its own values left out, and its optional fields as JSON. */
type Template = { row: HistoryRow; hasBreachedAt: boolean; extra: string | undefined };

function templateOf(record: unknown): Template | null {
  if (typeof record !== 'string') return null;
  const row = decodeChunkRecord(record);
  if (!row || row.dealId !== '' || row.enteredAt !== 0 || row.exitedAt !== 0 || row.businessMs !== 0)
    return null;
  if (!(row.breachedAt === undefined || row.breachedAt === null) || row.inputs !== undefined) return null;
  const extra: Record<string, unknown> = {};
  let any = false;
  for (const [k, v] of Object.entries(row))
    if (!FIXED_SET.has(k)) {
      extra[k] = v;
      any = true;
    }
  return { row, hasBreachedAt: row.breachedAt === null, extra: any ? JSON.stringify(extra) : undefined };
}

/** What columns stand for: the chunk text's length and id (its SHA-1, hex). */
export type ColumnsText = { length: number; id: string };

/**
 * The rows of `columns` as a batch of classed rows (exiting in `exits`, if given), as the chunk's text decodes them
 * without inputs, and the text they stand for. Every class and value is checked here, before any row is used.
 * Null when the value is not plainly columns (damage, another layout, or pieces of two values): the caller reads
 * the chunk's text instead. The batch's arrays may be views of `columns`: valid while it is.
 */
export function readChunkColumns(
  columns: Buffer,
  exits?: ExitRange,
): { text: ColumnsText; rows: ClassedRows } | null {
  if (!LITTLE_ENDIAN || columns.length < 8 || columns.toString('latin1', 0, 4) !== MAGIC) return null;
  const headerBytes = columns.readUInt32LE(4);
  const start = align8(8 + headerBytes);
  if (start > columns.length) return null;
  let header: unknown;
  try {
    header = JSON.parse(columns.toString('utf8', 8, 8 + headerBytes));
  } catch {
    return null;
  }
  if (typeof header !== 'object' || header === null) return null;
  const { t: textLength, s: id, c: classRecords, d: deals } = header as Record<string, unknown>;
  if (!Number.isSafeInteger(textLength) || !Array.isArray(classRecords) || typeof deals !== 'string')
    return null;
  if (typeof id !== 'string' || !ID.test(id) || columns.length < start + ID_BYTES) return null;
  if (columns.toString('latin1', columns.length - ID_BYTES) !== id) return null;
  const n = (columns.length - ID_BYTES - start) / ROW_BYTES;
  if (!Number.isInteger(n)) return null;
  const templates: Template[] = [];
  for (const record of classRecords) {
    const t = templateOf(record);
    if (!t) return null;
    templates.push(t);
  }
  const values = typed(Float64Array, columns, start, n * VALUES_PER_ROW);
  const enteredAt = values.subarray(0, n);
  const exitedAt = values.subarray(n, 2 * n);
  const businessMs = values.subarray(2 * n, 3 * n);
  const breachedAt = values.subarray(3 * n, 4 * n);
  const ints = typed(Uint32Array, columns, start + n * VALUES_PER_ROW * 8, n * 2);
  const classOf = ints.subarray(0, n);
  // Where each deal id starts in the joined ids: one more than the rows, the last the ids' length.
  const idAt = new Uint32Array(n + 1);
  const classes = templates.length;
  for (let i = 0; i < n; i++) {
    idAt[i + 1] = idAt[i]! + ints[n + i]!;
    // NaN compares false: a time that is no number is damage, as is an index that names no class.
    const e = enteredAt[i]!;
    const x = exitedAt[i]!;
    const b = businessMs[i]!;
    if (!(classOf[i]! < classes) || !(e === e && x === x && b === b)) return null;
  }
  if (idAt[n] !== deals.length) return null;
  const row = (i: number): HistoryRow => {
    const t = templates[classOf[i]!]!;
    const c = t.row;
    // Built field by field in the order the text reader builds its rows, so both kinds share one object shape.
    const r = {
      dealId: deals.slice(idAt[i], idAt[i + 1]),
      pipeline: c.pipeline,
      stage: c.stage,
      ownerRole: c.ownerRole,
      ownerId: c.ownerId,
      enteredAt: enteredAt[i]!,
      exitedAt: exitedAt[i]!,
      businessMs: businessMs[i]!,
      toStage: c.toStage,
      direction: c.direction,
      slaOutcome: c.slaOutcome,
      breachReason: c.breachReason,
    } as HistoryRow;
    const breached = breachedAt[i]!;
    if (t.hasBreachedAt) r.breachedAt = breached === breached ? breached : null;
    if (c.breachReasonSource !== undefined) r.breachReasonSource = c.breachReasonSource;
    // A fresh copy per row, as the text gives: rows never share objects a reader might change.
    if (t.extra !== undefined) Object.assign(r, JSON.parse(t.extra) as Partial<HistoryRow>);
    return r;
  };
  return {
    text: { length: textLength as number, id },
    rows: { classes: templates.map((t) => t.row), size: n, classOf, exitedAt, businessMs, exits, row },
  };
}

function align8(n: number): number {
  return Math.ceil(n / 8) * 8;
}

/**
 * `count` elements from `buf` at `at`: a view when aligned, else a copy (a typed array needs its elements aligned;
 * a reply is a slice of a socket read, at any offset).
 */
function typed<T extends Float64Array | Uint32Array>(
  Kind: { new (b: ArrayBufferLike, o: number, n: number): T; new (n: number): T; BYTES_PER_ELEMENT: number },
  buf: Buffer,
  at: number,
  count: number,
): T {
  const offset = buf.byteOffset + at;
  if (offset % Kind.BYTES_PER_ELEMENT === 0) return new Kind(buf.buffer, offset, count);
  const copy = new Kind(count);
  new Uint8Array(copy.buffer).set(buf.subarray(at, at + count * Kind.BYTES_PER_ELEMENT));
  return copy;
}
