import { validatePlaybook, type PathSegment } from '../playbook/load';
import type { Playbook } from '../playbook/schema';

/** A validation problem as the settings page consumes it (§4.1): a zod-style path relative to the playbook. */
export type PlaybookIssue = { path: PathSegment[]; message: string };

export type PlaybookCheck = { ok: true; playbook: Playbook } | { ok: false; issues: PlaybookIssue[] };

/** Validates a decoded playbook with the shared schema and the CLI's wording, paths as segments. */
export function checkPlaybook(value: unknown): PlaybookCheck {
  const result = validatePlaybook(value);
  if (result.ok) return { ok: true, playbook: result.playbook };
  return { ok: false, issues: result.errors.map((e) => ({ path: e.path, message: e.message })) };
}
