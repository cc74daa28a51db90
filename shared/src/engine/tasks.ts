import { addBusinessTime } from '../clock';
import { formatDuration, parseDuration } from '../playbook/duration';
import type { Playbook, Stage, TaskTemplate } from '../playbook/schema';
import { calendarOf } from './calendars';
import { criterionLabel } from './criteria';
import type { Effects } from './effects';
import { taskTime } from './task-time';
import { findRole } from './lookup';
import type { Command, SlaClock, StageEntry } from './types';

type CreateTask = Extract<Command, { type: 'createTask' }>;

export const slaTaskKey = (entryId: string) => `${entryId}:sla`;
export const templateTaskKey = (entryId: string, templateId: string) => `${entryId}:task:${templateId}`;

const clip = (text: string, max = 255) => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);

export function leadOf(playbook: Playbook, stage: Stage): string | null {
  return leadOfRole(playbook, stage.ownerRole);
}

export function leadOfRole(playbook: Playbook, roleId: string): string | null {
  return findRole(playbook, roleId)?.lead ?? null;
}

/**
 * Work goes to the deal owner; a deal nobody owns would leave the task unseen, so the stage role's lead gets
 * it instead, and the decision says so.
 */
export function ownerFor(
  fx: Effects,
  playbook: Playbook,
  stage: Stage,
  ownerId: string | null,
  what: string,
): string | null {
  return ownerForRole(fx, playbook, stage.ownerRole, ownerId, what);
}

export function ownerForRole(
  fx: Effects,
  playbook: Playbook,
  roleId: string,
  ownerId: string | null,
  what: string,
): string | null {
  if (ownerId) return ownerId;
  fx.decide(
    'task.owner_fallback',
    `${what}: the deal has no owner, so it goes to the lead of role "${roleId}"`,
  );
  return leadOfRole(playbook, roleId);
}

/** Who does a visit's work: the member routing gave its tasks to, else the deal owner. */
export const workOwner = (entry: StageEntry | null | undefined, ownerId: string | null): string | null =>
  entry?.assignee ?? ownerId;

/** The one-line brief of what the stage needs: its exit criteria, or simply moving the deal on. */
export function slaTaskSubject(stage: Stage): string {
  const todo = stage.exitCriteria.map(criterionLabel).join(', ');
  return clip(`${stage.label}: ${todo || 'move the deal to the next stage'}`);
}

/** `zone`: where the due time is told (taskZone); reps read the body in HubSpot. */
export function slaTask(
  entry: StageEntry,
  stage: Stage,
  clock: SlaClock,
  ownerId: string | null,
  zone = 'UTC',
): CreateTask {
  const basis = clock.basis === 'business' ? 'staffed time' : 'calendar time';
  const criteria = stage.exitCriteria.map((c) => `- ${criterionLabel(c)}`).join('\n');
  return {
    type: 'createTask',
    key: slaTaskKey(entry.entryId),
    kind: 'sla',
    subject: slaTaskSubject(stage),
    body:
      `Stage SLA: ${formatDuration(clock.targetMs)} of ${basis} (rule: ${clock.targetRule}), due ${taskTime(clock.dueAt, zone)}.` +
      (criteria ? `\nTo leave the stage:\n${criteria}` : ''),
    dueAt: clock.dueAt,
    ownerId,
    priority: 'HIGH',
    taskType: 'TODO',
  };
}

/**
 * A template's due time counts from stage entry on its own basis; "business" uses the stage's SLA calendar and
 * falls back to calendar time (with a decision) when the stage has none. No offset: due with the SLA.
 */
export function templateDueAt(
  fx: Pick<Effects, 'decide'>,
  playbook: Playbook,
  stage: Stage,
  template: TaskTemplate,
  enteredAt: number,
  slaDueAt: number | null,
): number {
  const offset = template.dueAfter === undefined ? null : parseDuration(template.dueAfter);
  if (offset === null) return slaDueAt ?? enteredAt;
  if (template.basis === 'business') {
    const cal = calendarOf(playbook, stage.sla?.calendar);
    if (cal) return addBusinessTime(cal, enteredAt, offset);
    fx.decide(
      'task.calendar_fallback',
      `task "${template.id}" asks for business time but stage "${stage.id}" has no SLA calendar: counted in calendar time`,
    );
  }
  return enteredAt + offset;
}

export function templateTask(
  entry: StageEntry,
  template: TaskTemplate,
  dueAt: number,
  ownerId: string | null,
): CreateTask {
  return {
    type: 'createTask',
    key: templateTaskKey(entry.entryId, template.id),
    kind: 'action',
    subject: template.subject,
    body: template.body ?? '',
    dueAt,
    ownerId,
    priority: template.priority,
    taskType: template.type,
  };
}
