import type { BreachReason, CardSlaStatus } from '@stagekeeper/app-client/api';

type TagVariant = 'default' | 'warning' | 'success' | 'error' | 'info';
type BarVariant = 'success' | 'warning' | 'danger';

/** What the rep sees for each SLA state; the service speaks the written-back property's values. */
export const STATUS_DISPLAY: Record<CardSlaStatus, { label: string; tag: TagVariant; bar: BarVariant }> = {
  running: { label: 'On track', tag: 'success', bar: 'success' },
  warning: { label: 'At risk', tag: 'warning', bar: 'warning' },
  breached: { label: 'Breached', tag: 'error', bar: 'danger' },
  breached_closed: { label: 'Breached', tag: 'error', bar: 'danger' },
  paused: { label: 'Paused', tag: 'default', bar: 'warning' },
  met: { label: 'Met', tag: 'info', bar: 'success' },
  cancelled: { label: 'Cancelled', tag: 'default', bar: 'warning' },
};

export const REASON_LABELS: Record<BreachReason, string> = {
  capacity: 'Capacity',
  missing_data: 'Missing data',
  handoff: 'Handoff',
  patient_unreachable: 'Patient unreachable',
  other: 'Other',
};

/** Hours and minutes only: playbook "1d" means 24 staffed hours, which reads wrongly as "a day". */
export function formatDuration(ms: number): string {
  const minutes = Math.floor(Math.abs(ms) / 60_000);
  if (minutes < 1) return 'less than 1m';
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return h > 0 ? (m > 0 ? `${h}h ${m}m` : `${h}h`) : `${m}m`;
}

export function timeLeftText(remainingMs: number, basis: 'business' | 'calendar'): string {
  const kind = basis === 'business' ? 'business time' : 'time';
  return remainingMs >= 0
    ? `${formatDuration(remainingMs)} ${kind} left`
    : `Overdue by ${formatDuration(remainingMs)} ${kind}`;
}

export function percentUsed(elapsedMs: number, targetMs: number): number {
  if (targetMs <= 0) return 100;
  return Math.min(100, Math.max(0, Math.round((elapsedMs / targetMs) * 100)));
}

/**
 * Formats an instant in an explicit zone. The zone always comes from the HubSpot context, never from the
 * runtime default, so the card shows the same wall time HubSpot shows elsewhere on the record.
 */
export function formatInstant(iso: string, timeZone: string, locale?: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const options: Intl.DateTimeFormatOptions = {
    weekday: 'short',
    month: 'short',
    day: 'numeric',
    hour: 'numeric',
    minute: '2-digit',
    timeZoneName: 'short',
  };
  try {
    return new Intl.DateTimeFormat(locale || 'en-US', { ...options, timeZone }).format(date);
  } catch {
    // An unknown zone or locale must not blank the card; UTC is labelled, so it cannot be misread.
    return new Intl.DateTimeFormat('en-US', { ...options, timeZone: 'UTC' }).format(date);
  }
}

/** How long ago, in the card's words: "just now", "2 min ago", "3 h ago". */
export function ageText(ms: number): string {
  const minutes = Math.floor(Math.max(0, ms) / 60_000);
  if (minutes < 1) return 'less than a minute ago';
  if (minutes < 60) return `${minutes} min ago`;
  return `${Math.floor(minutes / 60)} h ago`;
}
