import { validationError } from '../errors';

export const BATCH_MAX = 100;

/** `properties=a&properties=b` (what the client sends) and `properties=a,b` (what curl users send) both work. */
export function listParam(query: URLSearchParams, name: string): string[] | undefined {
  const raw = query.getAll(name);
  if (raw.length === 0) return undefined;
  return raw
    .flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter(Boolean);
}

export function boolParam(query: URLSearchParams, name: string): boolean {
  return query.get(name) === 'true';
}

/** Batch bodies: `{inputs: [...]}`, at most 100 inputs (facts §2). */
export function batchInputs<T = Record<string, unknown>>(body: unknown): T[] {
  const inputs = (body as { inputs?: unknown } | undefined)?.inputs;
  if (!Array.isArray(inputs)) throw validationError('Invalid input JSON: "inputs" must be an array');
  if (inputs.length > BATCH_MAX)
    throw validationError(
      `Batch input exceeds the limit of ${BATCH_MAX} inputs (got ${inputs.length}). Batch operations are limited to ${BATCH_MAX} records at a time.`,
      {
        context: { limit: [String(BATCH_MAX)], received: [String(inputs.length)] },
      },
    );
  return inputs as T[];
}

export function intParam(query: URLSearchParams, name: string, dflt: number, max: number): number {
  const raw = query.get(name);
  if (raw === null) return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max)
    throw validationError(`${name} must be an integer between 1 and ${max}, got ${raw}`);
  return n;
}

export function batchEnvelope(startedAt: number, results: unknown[], errors: unknown[] = []) {
  return {
    status: 'COMPLETE',
    results,
    ...(errors.length ? { numErrors: errors.length, errors } : {}),
    startedAt: new Date(startedAt).toISOString(),
    completedAt: new Date().toISOString(),
  };
}

export function batchError(
  category: string,
  message: string,
  context: Record<string, string[]>,
  subCategory?: string,
) {
  return {
    status: 'error',
    category,
    ...(subCategory ? { subCategory } : {}),
    message,
    context,
    errors: [],
    links: {},
  };
}
