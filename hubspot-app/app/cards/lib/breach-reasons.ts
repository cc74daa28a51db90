import type { BreachReason } from '@stagekeeper/app-client/api';

/** The reasons a rep can pick, in menu order: the playbook schema's enum, which the card cannot import at run time. */
export const BREACH_REASONS = [
  'capacity',
  'missing_data',
  'handoff',
  'patient_unreachable',
  'other',
] as const satisfies readonly BreachReason[];

// A reason added to the schema but not to the menu fails the type check here.
type Unlisted = Exclude<BreachReason, (typeof BREACH_REASONS)[number]>;
export const everyReasonListed: [Unlisted] extends [never] ? true : Unlisted = true;
