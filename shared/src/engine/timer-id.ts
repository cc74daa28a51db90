import type { TimerFiring } from './types';

export type TimerKind = TimerFiring['kind'];

/**
 * The id of one timer of a visit (or event-clock run): `<entryId>:warning`, `<entryId>:breach` or
 * `<entryId>:level:<n>`. The timer queue derives its job ids from it, so rescheduling replaces and cancelling
 * finds the job; `firingOfTimerId` reads it back.
 */
export const timerId = (entryId: string, kind: TimerKind, level?: number): string =>
  kind === 'escalation' ? `${entryId}:level:${level}` : `${entryId}:${kind}`;

/**
 * The firing a timer id names (kind, entry and level, as `timerId` spells them), or undefined for an id it
 * does not spell: the timer queue stores only the id of a pending timer and derives the rest from it.
 */
export function firingOfTimerId(id: string): TimerFiring | undefined {
  const level = /^(.+):level:(\d+)$/.exec(id);
  if (level) return { timerId: id, kind: 'escalation', entryId: level[1]!, level: Number(level[2]) };
  const plain = /^(.+):(warning|breach)$/.exec(id);
  return plain ? { timerId: id, kind: plain[2] as 'warning' | 'breach', entryId: plain[1]! } : undefined;
}
