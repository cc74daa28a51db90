import type { Criterion, Stage } from '../playbook/schema';
import { P } from '../properties';
import type { DealSnapshot, StageEntry } from './types';

type EntryTasks = StageEntry['tasks'];

/**
 * What the card and remediation tasks show for a criterion. Built from the playbook only (property names and
 * the playbook's own comparison values), never from the deal's values: those may be health data.
 */
export function criterionLabel(c: Criterion): string {
  if (c.label) return c.label;
  switch (c.op) {
    case 'present':
      return `${c.property} present`;
    case 'equals':
      return `${c.property} is ${c.value}`;
    case 'notEquals':
      return `${c.property} is not ${c.value}`;
    case 'oneOf':
      return `${c.property} is one of ${c.values.join(', ')}`;
    case 'gt':
      return `${c.property} > ${c.value}`;
    case 'gte':
      return `${c.property} >= ${c.value}`;
    case 'lt':
      return `${c.property} < ${c.value}`;
    case 'lte':
      return `${c.property} <= ${c.value}`;
    case 'dateBefore':
      return `${c.property} before ${c.value}`;
    case 'dateAfter':
      return `${c.property} after ${c.value}`;
    case 'inFuture':
      return `${c.property} in the future`;
    case 'taskDone':
      return `task "${c.task}" done`;
  }
}

/** HubSpot sends datetimes as epoch-ms strings and dates as ISO dates; accept both. */
export function parseInstant(raw: string | null | undefined): number | null {
  if (raw === null || raw === undefined || raw.trim() === '') return null;
  const text = raw.trim();
  const ms = /^-?\d+$/.test(text) ? Number(text) : Date.parse(text);
  return Number.isFinite(ms) ? ms : null;
}

export function parseNumber(raw: string | null | undefined): number | null {
  if (raw === null || raw === undefined || raw.trim() === '') return null;
  const n = Number(raw);
  return Number.isFinite(n) ? n : null;
}

export function criterionHolds(
  c: Criterion,
  snapshot: DealSnapshot,
  entryTasks: EntryTasks,
  now: number,
): boolean {
  if (c.op === 'taskDone') {
    const task = entryTasks.find((t) => t.templateId === c.task);
    return task !== undefined && snapshot.tasks[task.key] === 'COMPLETED';
  }
  const raw = snapshot.properties[c.property] ?? null;
  const present = raw !== null && raw.trim() !== '';
  switch (c.op) {
    case 'present':
      return present;
    case 'equals':
      return present && raw === c.value;
    // An empty property is "not equal" to any value: the criterion asks that the deal is not in that state.
    case 'notEquals':
      return raw !== c.value;
    case 'oneOf':
      return present && c.values.includes(raw);
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte': {
      const n = parseNumber(raw);
      if (n === null) return false;
      return c.op === 'gt'
        ? n > c.value
        : c.op === 'gte'
          ? n >= c.value
          : c.op === 'lt'
            ? n < c.value
            : n <= c.value;
    }
    case 'dateBefore':
    case 'dateAfter': {
      const at = parseInstant(raw);
      const bound = parseInstant(c.value);
      if (at === null || bound === null) return false;
      return c.op === 'dateBefore' ? at < bound : at > bound;
    }
    case 'inFuture': {
      const at = parseInstant(raw);
      return at !== null && at > now;
    }
  }
}

/** All criteria must hold; `missing` lists the labels of those that do not, in playbook order. */
export function evaluateCriteria(
  criteria: readonly Criterion[],
  snapshot: DealSnapshot,
  entryTasks: EntryTasks,
  now: number,
): { met: boolean; missing: string[] } {
  const missing = criteria.filter((c) => !criterionHolds(c, snapshot, entryTasks, now)).map(criterionLabel);
  return { met: missing.length === 0, missing };
}

/**
 * What entering a stage needs: its entry criteria, plus a closure reason from its list when it is a closed stage
 * that takes one (the reason lives in the written-back closure-reason property, so reports can group by it).
 */
export function entryCriteriaOf(stage: Stage): Criterion[] {
  const reasons = stage.closureReasons;
  if (!reasons) return stage.entryCriteria;
  const names = reasons.map((r) => r.replace(/_/g, ' '));
  const list = names.length > 1 ? `${names.slice(0, -1).join(', ')} or ${names.at(-1)}` : names[0];
  return [
    ...stage.entryCriteria,
    {
      op: 'oneOf',
      property: P.closureReason,
      values: [...reasons],
      label: `Closure reason recorded (${list})`,
    },
  ];
}
