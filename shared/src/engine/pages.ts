import { isOpen, nextOpen } from '../clock';
import type { EscalationLevel, Playbook, Stage } from '../playbook/schema';
import { findRole, findStage } from './lookup';
import { elapsed, type ClockContext } from './sla-clock';
import type { Command, DealState, PageCommand, PageResolution, StageEntry } from './types';

/** Whether a level pages: its `page` block says so, or (by default) its actions go to the role's lead. */
export function levelPages(level: EscalationLevel): boolean {
  if (level.page?.enabled !== undefined) return level.page.enabled;
  if (level.page) return true;
  return level.actions.some((a) => a.type === 'taskForLead' || a.type === 'reassignToLead');
}

/** Page dedup key: one page per deal, stage entry and level, whatever retries or replays happen. */
export const pageKey = (entryId: string, level: number) => `${entryId}:level:${level}`;

/**
 * A page is held to the role's staffed hours (the role's calendar, else the SLA's) unless the level says
 * "page now": a lead off shift should not be woken for what the next shift handles.
 */
export function pageNotBefore(ctx: ClockContext, level: EscalationLevel, now: number): number {
  const cal = ctx.noticeCalendar;
  if (level.page?.now || !cal || isOpen(cal, now)) return now;
  return nextOpen(cal, now);
}

/** The page command for a level that just fired; facts are labels and durations only. */
export function pageFor(
  playbook: Playbook,
  stage: Stage,
  entry: StageEntry,
  ctx: ClockContext,
  levelIndex: number,
  now: number,
): PageCommand | undefined {
  const level = ctx.sla.escalations[levelIndex];
  const clock = entry.sla;
  if (!level || !clock || !levelPages(level)) return undefined;
  const role = findRole(playbook, stage.ownerRole);
  const ref = findStage(playbook, entry.stage);
  const waitedMs =
    clock.consumedMs + (clock.runningSince !== null ? elapsed(clock, ctx, clock.runningSince, now) : 0);
  const leadTask = level.actions.find((a) => a.type === 'taskForLead');
  const breached = clock.status === 'breached' || now >= clock.dueAt;
  const reason =
    (leadTask?.type === 'taskForLead' && leadTask.subject) ||
    (breached ? `SLA breached (escalation at ${level.at}%)` : `SLA at ${level.at}%`);
  return {
    type: 'page',
    key: pageKey(entry.entryId, levelIndex),
    entryId: entry.entryId,
    channel: level.page?.channel ?? null,
    notBefore: pageNotBefore(ctx, level, now),
    facts: {
      dealId: entry.entryId.slice(0, entry.entryId.indexOf(':')),
      pipeline: { id: entry.pipeline, label: ref?.pipeline.label ?? entry.pipeline },
      stage: { id: entry.stage, label: stage.label },
      role: { id: stage.ownerRole, name: role?.name ?? stage.ownerRole },
      leadOwnerId: role?.lead ?? null,
      level: levelIndex + 1,
      atPct: level.at,
      waitedMs,
      slaMs: clock.targetMs,
      basis: clock.basis,
      dueAt: clock.dueAt,
      breached,
      reason,
      breachReason: breached ? entry.breachReason : null,
      ...pageZone(playbook, ctx),
    },
  };
}

/** The SLA calendar's zone, else the role's, else the playbook's first calendar's (a calendar-time SLA has none). */
function pageZone(playbook: Playbook, ctx: ClockContext): { timeZone?: string } {
  const timeZone = (ctx.calendar ?? ctx.noticeCalendar)?.timeZone ?? playbook.calendars[0]?.timeZone;
  return timeZone ? { timeZone } : {};
}

/**
 * Pages of a visit that is over resolve: the deal left the stage, the SLA was met or cancelled, or the deal was
 * closed. Derived from the states before and after one decision, so every path that ends a visit (webhook,
 * sweep, timer catch-up, playbook change) resolves its pages without each rule having to remember to.
 */
export function pageResolutions(before: DealState | null, after: DealState | null): Command[] {
  const entry = before?.current;
  const paged = entry?.sla?.paged ?? [];
  if (!entry || paged.length === 0) return [];
  const now = after?.current?.entryId === entry.entryId ? after.current : null;
  const wasOpen =
    entry.sla?.status === 'running' || entry.sla?.status === 'paused' || entry.sla?.status === 'breached';
  let why: PageResolution | null;
  if (!now) why = after?.closedReason ? 'deal_closed' : 'stage_left';
  else if (!wasOpen)
    why = null; // already resolved when the clock stopped
  else if (now.sla?.status === 'met') why = 'sla_met';
  else if (now.sla?.status === 'cancelled' || !now.sla) why = 'sla_cancelled';
  else why = null;
  if (!why) return [];
  const resolved = why;
  return paged.map((level) => ({
    type: 'resolvePage' as const,
    key: pageKey(entry.entryId, level),
    entryId: entry.entryId,
    why: resolved,
  }));
}
