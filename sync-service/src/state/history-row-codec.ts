import { BREACH_REASONS, HistoryRowSchema, type HistoryRow } from '@stagekeeper/shared';

/**
 * How a stage history row is stored. Rows used to be the row's JSON object, checked with zod on read: ~420 bytes
 * and ~15 us a row, which made the scorecard's read of a busy week take seconds. New rows are a positional JSON
 * array (version first) holding the fields every row has, with the optional rest in a trailing object: about half
 * the bytes, and the fixed part is checked by hand (a few typeof tests) instead of by zod. Old rows (a JSON
 * object) still decode, through zod as before.
 */

const VERSION = 1;
const DIRECTIONS = new Set(['forward', 'backward', 'exit']);
const OUTCOMES = new Set(['met', 'breached', 'none', 'cancelled']);
const REASONS = new Set<string>(BREACH_REASONS);
const SOURCES = new Set(['inferred', 'manual']);
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

const str = (v: unknown): v is string => typeof v === 'string';
const num = (v: unknown): v is number => typeof v === 'number';
const strOrNull = (v: unknown): v is string | null => v === null || typeof v === 'string';

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
  const a = parsed as unknown[];
  if (a[0] !== VERSION || a.length < 15 || a.length > 16) return null;
  const [, dealId, pipeline, stage, ownerRole, ownerId, enteredAt, exitedAt, businessMs, toStage] = a;
  const [direction, slaOutcome, breachReason, breachedAt, source] = a.slice(10, 15);
  if (
    !str(dealId) ||
    !str(pipeline) ||
    !str(stage) ||
    !str(ownerRole) ||
    !strOrNull(ownerId) ||
    !num(enteredAt) ||
    !num(exitedAt) ||
    !num(businessMs) ||
    !strOrNull(toStage) ||
    !DIRECTIONS.has(direction as string) ||
    !OUTCOMES.has(slaOutcome as string) ||
    !(breachReason === null || REASONS.has(breachReason as string)) ||
    !(breachedAt === ABSENT || breachedAt === null || num(breachedAt)) ||
    !(source === ABSENT || source === null || SOURCES.has(source as string))
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
