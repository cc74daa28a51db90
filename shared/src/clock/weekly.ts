/**
 * The weekly staffing pattern in wall minutes, without a zone. Kept free of runtime imports from the playbook
 * schema so the schema's own validation (unreachable SLA targets) can use it without an import cycle.
 */

export const DAY_MINUTES = 1440;
export const WEEK_MINUTES = 7 * DAY_MINUTES;

/** Minutes after local midnight; `end` runs past 1440 for overnight shifts. */
export interface WallInterval {
  readonly start: number;
  readonly end: number;
}

type HourSpan = { readonly start: string; readonly end: string };

function minutesOf(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number) as [number, number];
  return h * 60 + m;
}

/** Seven days (Monday first) of "HH:MM" intervals, or "24/7", as wall-minute intervals per weekday. */
export function wallTable(days: '24/7' | readonly (readonly HourSpan[])[]): WallInterval[][] {
  if (days === '24/7') return Array.from({ length: 7 }, () => [{ start: 0, end: DAY_MINUTES }]);
  return days.map((spans) =>
    spans.map(({ start, end }) => {
      const s = minutesOf(start);
      const e = minutesOf(end);
      // end <= start is the schema's overnight shift (equal means a full 24 hours from `start`).
      return { start: s, end: e <= s ? e + DAY_MINUTES : e };
    }),
  );
}

/**
 * Staffed minutes of one week in wall time: per local date, the union of its own intervals and the previous
 * weekday's overnight tails, clipped to the date (the same rule the clock applies to real dates). Equal to
 * the staffed time of any 7 consecutive local dates without holidays or offset changes.
 */
export function weeklyStaffedMinutes(table: readonly (readonly WallInterval[])[]): number {
  let total = 0;
  for (let d = 0; d < 7; d++) {
    const pieces: [number, number][] = [];
    for (const { end } of table[(d + 6) % 7]!) if (end > DAY_MINUTES) pieces.push([0, end - DAY_MINUTES]);
    for (const { start, end } of table[d]!) pieces.push([start, Math.min(end, DAY_MINUTES)]);
    pieces.sort((a, b) => a[0] - b[0]);
    let reach = 0;
    for (const [s, e] of pieces) {
      const from = Math.max(s, reach);
      if (e > from) total += e - from;
      reach = Math.max(reach, e);
    }
  }
  return total;
}
