import { z } from 'zod';

const UNIT_MS = { w: 7 * 86_400_000, d: 86_400_000, h: 3_600_000, m: 60_000 } as const;
const DURATION_RE = /^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?$/;

/** Parses "15m", "4h", "1h30m", "2d", "1w"; returns milliseconds or null. */
export function parseDuration(text: string): number | null {
  const m = DURATION_RE.exec(text.trim());
  if (!m || text.trim() === '') return null;
  const [, w, d, h, min] = m;
  const ms =
    Number(w ?? 0) * UNIT_MS.w +
    Number(d ?? 0) * UNIT_MS.d +
    Number(h ?? 0) * UNIT_MS.h +
    Number(min ?? 0) * UNIT_MS.m;
  return ms > 0 ? ms : null;
}

/** Renders milliseconds back into the playbook's notation (largest units first). */
export function formatDuration(ms: number): string {
  let rest = Math.round(ms / 60_000);
  const parts: string[] = [];
  for (const [unit, size] of [
    ['w', 10_080],
    ['d', 1_440],
    ['h', 60],
    ['m', 1],
  ] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) parts.push(`${n}${unit}`);
    rest -= n * size;
  }
  return parts.join('') || '0m';
}

/**
 * A duration written as text in the playbook. Business-time targets count staffed time, so "1d" there is
 * 24 staffed hours (ServiceNow's convention), not one working day: write "8h" for a working day.
 */
export const Duration = z.string().superRefine((value, ctx) => {
  if (parseDuration(value) === null) {
    ctx.addIssue({
      code: 'custom',
      message: `expected a duration like "4h" or "15m", got ${JSON.stringify(value)}`,
    });
  }
});
