import type { Criterion, Playbook, Stage } from '../playbook/schema';
import { gatherEvidence } from './breach';
import { criterionHolds } from './criteria';
import type { DealSnapshot, InputsAt, StageEntry, VisitInputs } from './types';

/**
 * What a stage visit records so a draft playbook can be replayed over it (shared/src/whatif). Safe by
 * construction: property values are kept only for properties the playbook compares against fixed values
 * (equals / notEquals / oneOf: enumerations and flags) and only when they are short tokens, so free text and
 * names never get in; every other criterion is kept as a truth value.
 */

const keys = new WeakMap<Criterion, string>();

/** Identity of a criterion by what it tests, not its label: the same test in a draft finds the recorded truth. */
export function criterionKey(c: Criterion): string {
  let key = keys.get(c);
  if (key === undefined) keys.set(c, (key = keyOf(c)));
  return key;
}

function keyOf(c: Criterion): string {
  switch (c.op) {
    case 'taskDone':
      return JSON.stringify([c.op, c.task]);
    case 'present':
    case 'inFuture':
      return JSON.stringify([c.op, c.property]);
    case 'oneOf':
      return JSON.stringify([c.op, c.property, [...c.values].sort()]);
    default:
      return JSON.stringify([c.op, c.property, c.value]);
  }
}

export const criteriaKey = (list: readonly Criterion[]): string => JSON.stringify(list.map(criterionKey));

/** Enumeration values are internal names ("urgent", "true", "patient"): no spaces, short. */
export const TOKEN = /^[A-Za-z0-9_.:-]{1,64}$/;

const enumCache = new WeakMap<Playbook, string[]>();

/** Properties the playbook compares against fixed values anywhere (any stage), so a draft moving a rule finds them. */
export function enumerationProperties(playbook: Playbook): string[] {
  let hit = enumCache.get(playbook);
  if (hit) return hit;
  const names = new Set<string>();
  const visit = (list: readonly Criterion[]) => {
    for (const c of list)
      if (c.op === 'equals' || c.op === 'notEquals' || c.op === 'oneOf') names.add(c.property);
  };
  for (const pl of playbook.pipelines)
    for (const st of pl.stages) {
      visit(st.entryCriteria);
      visit(st.exitCriteria);
      st.sla?.overrides.forEach((o) => visit(o.when));
      if (st.sla) visit(st.sla.pauseWhen);
    }
  hit = [...names].sort();
  enumCache.set(playbook, hit);
  return hit;
}

export function captureInputs(
  playbook: Playbook,
  criteria: readonly Criterion[],
  snapshot: DealSnapshot,
  entry: Pick<StageEntry, 'tasks'>,
  now: number,
): InputsAt {
  const props: Record<string, string | null> = {};
  for (const name of enumerationProperties(playbook)) {
    const raw = snapshot.properties[name];
    if (raw === undefined) continue;
    if (raw === null || raw.trim() === '') props[name] = null;
    else if (TOKEN.test(raw)) props[name] = raw;
  }
  const held: Record<string, boolean> = {};
  for (const c of criteria) held[criterionKey(c)] = criterionHolds(c, snapshot, entry.tasks, now);
  return { props, held };
}

/** The criteria whose truth at entry decides a visit: the SLA's overrides and pause conditions. */
export function entryCriteriaOf(stage: Stage): Criterion[] {
  return [...(stage.sla?.overrides.flatMap((o) => o.when) ?? []), ...(stage.sla?.pauseWhen ?? [])];
}

/** Intervals kept per visit; a visit that pauses more often gives up its inputs rather than grow without bound. */
export const MAX_PAUSE_INTERVALS = 100;

/** Opens or closes the visit's record of pause-condition intervals (whatever the clock's status). */
export function notePause(entry: StageEntry, holds: boolean, at: number): void {
  // No inputs: recorded before inputs existed, or given up; a partial pause record would be a guess.
  if (!entry.inputs) return;
  const seen = (entry.pauseSeen ??= []);
  const open = seen.length > 0 && seen[seen.length - 1]![1] === null;
  if (holds && !open && seen.length >= MAX_PAUSE_INTERVALS) {
    delete entry.inputs;
    delete entry.pauseSeen;
    return;
  }
  if (holds && !open) seen.push([Math.max(at, entry.enteredAt), null]);
  else if (!holds && open) seen[seen.length - 1]![1] = Math.max(at, seen[seen.length - 1]![0]);
}

export function visitInputs(
  playbook: Playbook,
  stage: Stage | undefined,
  entry: StageEntry,
  snapshot: DealSnapshot,
  exitAt: number,
  now: number,
): VisitInputs | undefined {
  // A visit opened before inputs were recorded has no pause record either: claiming "no pauses" would be a guess.
  if (!entry.inputs) return undefined;
  const evidence = gatherEvidence(playbook, stage, entry, snapshot, now);
  return {
    entry: entry.inputs,
    // A deleted or merged deal's snapshot has no properties: recording them as empty would be a guess.
    exit: snapshot.exists
      ? captureInputs(
          playbook,
          [...(stage?.exitCriteria ?? []), ...(stage ? entryCriteriaOf(stage) : [])],
          snapshot,
          entry,
          now,
        )
      : { props: {}, held: {} },
    pauses: (entry.pauseSeen ?? []).map(
      ([from, to]) => [from, to ?? Math.max(from, exitAt)] as [number, number],
    ),
    pauseKey: criteriaKey(stage?.sla?.pauseWhen ?? []),
    ...(snapshot.exists
      ? {
          evidence: {
            ownerChanges: evidence.ownerChanges,
            ownerChangesAt: entry.ownerChanges.map((c) => c.at),
            noOwner: evidence.noOwner,
            unansweredAttempts: evidence.unansweredAttempts,
            ...(evidence.ownerOpenTasks !== undefined ? { ownerOpenTasks: evidence.ownerOpenTasks } : {}),
          },
        }
      : {}),
  };
}
