import type { HistoryRow } from '@stagekeeper/shared';
import { decodeChunkRecord, encodeHistoryRow } from './history-row-codec';

/**
 * A sealed history chunk's rows laid out for the scorecard (the chunk's columns), beside its text. Reading a
 * million rows from text cost ~2-4 s here, nearly all of it spent finding and copying each row's fields and
 * collecting the garbage that left; the scorecard needs the same dozen values of every row, most of them shared
 * by thousands of rows. So each row is split into its class (everything but its deal and its times, shared by
 * the rows that have it in common, checked once) and its own values, stored as numbers:
 *
 *   "SKC1" | u32 header bytes | header JSON {t: chunk text length, c: [class record], d: [deal id per row]}
 *   | zero padding to a multiple of 8 | per row: f64 class index, enteredAt, exitedAt, businessMs, breachedAt
 *
 * A class record is the row's own text record (history-row-codec.ts) with an empty deal id, zero times and
 * breachedAt null when the row has one, so it is checked on read by the same code as a text record. breachedAt
 * NaN is null. Rows carry no visit inputs: the columns are for readers that never replay visits (inputs false).
 * Little endian throughout; a value that is not plainly this layout decodes as null, and the reader falls back to
 * the chunk's text.
 */

const MAGIC = 'SKC1';
const VALUES_PER_ROW = 5;
const ROW_BYTES = VALUES_PER_ROW * 8;

/** Exits kept by a filtered decode: from (inclusive) to (exclusive), epoch ms. */
type Exits = { from: number; to: number };

/** The columns of `rows` (a chunk's rows in the order written, decoded without inputs) of a chunk `textLength` long. */
export function encodeChunkColumns(rows: readonly HistoryRow[], textLength: number): Buffer {
  const classes: string[] = [];
  const classIndex = new Map<string, number>();
  const deals: string[] = [];
  const values = new Float64Array(rows.length * VALUES_PER_ROW);
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
    const at = i * VALUES_PER_ROW;
    values[at] = c;
    values[at + 1] = row.enteredAt;
    values[at + 2] = row.exitedAt;
    values[at + 3] = row.businessMs;
    values[at + 4] = row.breachedAt ?? NaN;
  });
  const header = Buffer.from(JSON.stringify({ t: textLength, c: classes, d: deals }), 'utf8');
  const start = align8(8 + header.length);
  const out = Buffer.alloc(start + values.byteLength);
  out.write(MAGIC, 0, 'latin1');
  out.writeUInt32LE(header.length, 4);
  header.copy(out, 8);
  Buffer.from(values.buffer, values.byteOffset, values.byteLength).copy(out, start);
  return out;
}

/** A class, checked: the row it describes with its own values left out, and its optional fields as JSON. */
type Template = { row: HistoryRow; hasBreachedAt: boolean; extra: string | undefined };

/** Fields every row has, set per row or from the template's named fields (the rest are its optional ones). */
const OWN = new Set([
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
]);

function templateOf(record: unknown): Template | null {
  if (typeof record !== 'string') return null;
  const row = decodeChunkRecord(record);
  if (!row || row.dealId !== '' || row.enteredAt !== 0 || row.exitedAt !== 0 || row.businessMs !== 0)
    return null;
  if (!(row.breachedAt === undefined || row.breachedAt === null) || row.inputs !== undefined) return null;
  const extra: Record<string, unknown> = {};
  let any = false;
  for (const [k, v] of Object.entries(row))
    if (!OWN.has(k)) {
      extra[k] = v;
      any = true;
    }
  return { row, hasBreachedAt: row.breachedAt === null, extra: any ? JSON.stringify(extra) : undefined };
}

/**
 * The rows of `columns` (exiting in `exits`, if given) pushed onto `into`, in the order written, as the chunk's
 * text decodes them without inputs; the chunk text length they stand for. Null, with nothing pushed, when the
 * value is not plainly columns (damage, or another layout): the caller reads the chunk's text instead.
 */
export function decodeChunkColumns(
  columns: Buffer,
  into: HistoryRow[],
  exits?: Exits,
): { textLength: number } | null {
  if (columns.length < 8 || columns.toString('latin1', 0, 4) !== MAGIC) return null;
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
  const { t: textLength, c: classRecords, d: deals } = header as Record<string, unknown>;
  if (!Number.isSafeInteger(textLength) || !Array.isArray(classRecords) || !Array.isArray(deals)) return null;
  const n = deals.length;
  if (columns.length - start !== n * ROW_BYTES) return null;
  const templates: Template[] = [];
  for (const record of classRecords) {
    const t = templateOf(record);
    if (!t) return null;
    templates.push(t);
  }
  const values = float64s(columns, start, n * VALUES_PER_ROW);
  const rows: HistoryRow[] = [];
  for (let i = 0; i < n; i++) {
    const at = i * VALUES_PER_ROW;
    const dealId: unknown = deals[i];
    const t = templates[values[at]!];
    const enteredAt = values[at + 1]!;
    const exitedAt = values[at + 2]!;
    const businessMs = values[at + 3]!;
    const breachedAt = values[at + 4]!;
    // NaN compares false: a time that is no number is damage, as is an index that names no class.
    if (
      typeof dealId !== 'string' ||
      t === undefined ||
      !(enteredAt === enteredAt && exitedAt === exitedAt && businessMs === businessMs)
    )
      return null;
    if (exits && !(exitedAt >= exits.from && exitedAt < exits.to)) continue;
    const c = t.row;
    // Built field by field in the order the text reader builds its rows, so both kinds share one object shape.
    const row = {
      dealId,
      pipeline: c.pipeline,
      stage: c.stage,
      ownerRole: c.ownerRole,
      ownerId: c.ownerId,
      enteredAt,
      exitedAt,
      businessMs,
      toStage: c.toStage,
      direction: c.direction,
      slaOutcome: c.slaOutcome,
      breachReason: c.breachReason,
    } as HistoryRow;
    if (t.hasBreachedAt) row.breachedAt = breachedAt === breachedAt ? breachedAt : null;
    if (c.breachReasonSource !== undefined) row.breachReasonSource = c.breachReasonSource;
    // A fresh copy per row, as the text gives: rows never share objects a reader might change.
    if (t.extra !== undefined) Object.assign(row, JSON.parse(t.extra) as Partial<HistoryRow>);
    rows.push(row);
  }
  for (const row of rows) into.push(row);
  return { textLength: textLength as number };
}

function align8(n: number): number {
  return Math.ceil(n / 8) * 8;
}

/** `count` doubles from `buf` at `at`: a view when aligned, else a copy (Float64Array needs 8-byte alignment). */
function float64s(buf: Buffer, at: number, count: number): Float64Array {
  const offset = buf.byteOffset + at;
  if (offset % 8 === 0) return new Float64Array(buf.buffer, offset, count);
  const copy = new Float64Array(count);
  new Uint8Array(copy.buffer).set(buf.subarray(at, at + count * 8));
  return copy;
}
