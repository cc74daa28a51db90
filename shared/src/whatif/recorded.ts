import { criterionHolds } from '../engine/criteria';
import type { DealSnapshot, InputsAt } from '../engine/types';
import { criterionKey } from '../engine/visit-inputs';
import type { Criterion } from '../playbook/schema';

/**
 * Three-valued truth of a criterion from what a visit recorded: its recorded truth when the same test was
 * recorded, else the engine's own evaluation when it compares a recorded enumeration value, else undefined
 * ("unknown"): a value the visit never captured is never guessed.
 */
export function recordedTruth(c: Criterion, at: InputsAt | undefined): boolean | undefined {
  if (!at) return undefined;
  const held = at.held[criterionKey(c)];
  if (held !== undefined) return held;
  if (
    (c.op === 'equals' || c.op === 'notEquals' || c.op === 'oneOf' || c.op === 'present') &&
    Object.hasOwn(at.props, c.property)
  )
    return criterionHolds(c, { properties: at.props } as unknown as DealSnapshot, [], 0);
  return undefined;
}

/** All must hold: one known false decides, otherwise any unknown leaves it unknown. */
export function allHold(list: readonly Criterion[], at: InputsAt | undefined): boolean | undefined {
  let unknown = false;
  for (const c of list) {
    const v = recordedTruth(c, at);
    if (v === false) return false;
    if (v === undefined) unknown = true;
  }
  return unknown ? undefined : true;
}

/**
 * Index of the first override that holds (-1: the default target), as the engine's chooseTarget picks it;
 * undefined when an override before the deciding one cannot be evaluated.
 */
export function overrideIndex(
  overrides: readonly { when: readonly Criterion[] }[],
  at: InputsAt | undefined,
): number | undefined {
  for (let i = 0; i < overrides.length; i++) {
    const v = allHold(overrides[i]!.when, at);
    if (v === true) return i;
    if (v === undefined) return undefined;
  }
  return -1;
}

/** Unmet labels of a criteria list (the breach evidence), or undefined when any is unknown. */
export function unmetCriteria(list: readonly Criterion[], at: InputsAt | undefined): Criterion[] | undefined {
  const unmet: Criterion[] = [];
  for (const c of list) {
    const v = recordedTruth(c, at);
    if (v === undefined) return undefined;
    if (!v) unmet.push(c);
  }
  return unmet;
}
