import type { BreachReason } from '@stagekeeper/app-client/api';

const REASONS: Record<BreachReason, string> = {
  capacity: 'Capacity',
  missing_data: 'Missing data',
  handoff: 'Handoff',
  patient_unreachable: 'Patient unreachable',
  other: 'Other',
};

export const percent = (rate: number | null) => (rate === null ? '–' : `${Math.round(rate * 100)}%`);

/** Hours and minutes, like the card: "1d" of business time would read as a calendar day. */
export function duration(ms: number | null): string {
  if (ms === null) return '–';
  const minutes = Math.round(ms / 60_000);
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return h > 0 ? (m > 0 ? `${h}h ${m}m` : `${h}h`) : `${m}m`;
}

export const reasons = (top: { reason: BreachReason; count: number }[]) =>
  top.length === 0 ? '–' : top.map((r) => `${REASONS[r.reason] ?? r.reason} (${r.count})`).join(', ');

/** Monday of an ISO week ("2026-W47"), as a UTC date; null when the text is not an ISO week. */
export function isoWeekMonday(week: string): Date | null {
  const m = /^(\d{4})-W(\d{2})$/.exec(week);
  if (!m) return null;
  const [year, n] = [Number(m[1]), Number(m[2])];
  // 4 January is always in week 1.
  const jan4 = new Date(Date.UTC(year, 0, 4));
  const monday1 = Date.UTC(year, 0, 4 - ((jan4.getUTCDay() + 6) % 7));
  return new Date(monday1 + (n - 1) * 7 * 86_400_000);
}

export function weekLabel(week: string): string {
  const monday = isoWeekMonday(week);
  if (!monday) return week;
  const sunday = new Date(monday.getTime() + 6 * 86_400_000);
  const fmt = (d: Date) => d.toLocaleDateString('en-US', { month: 'short', day: 'numeric', timeZone: 'UTC' });
  return `${week} (${fmt(monday)} – ${fmt(sunday)})`;
}

/** "2026-11" as "2026-11 (November)"; anything else unchanged. */
export function monthLabel(month: string): string {
  const m = /^(\d{4})-(\d{2})$/.exec(month);
  if (!m) return month;
  const name = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, 1)).toLocaleDateString('en-US', {
    month: 'long',
    timeZone: 'UTC',
  });
  return `${month} (${name})`;
}
