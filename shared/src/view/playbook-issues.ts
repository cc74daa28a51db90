import { validatePlaybook } from '../playbook/load';
import type { Playbook } from '../playbook/schema';

/** A validation problem as the settings page consumes it (§4.1): a zod-style path relative to the playbook. */
export type PlaybookIssue = { path: (string | number)[]; message: string };

export type PlaybookCheck = { ok: true; playbook: Playbook } | { ok: false; issues: PlaybookIssue[] };

/**
 * Reads a path rendered by the playbook validator (`pipelines[0].stages[3].sla.target`, odd keys as `["a b"]`)
 * back into segments. validatePlaybook's messages are the ones the page already shows, but it only hands out the
 * rendered form; the page places errors by segment.
 */
export function pathSegments(rendered: string): (string | number)[] {
  const out: (string | number)[] = [];
  const re = /\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]|\.?([A-Za-z_$][\w$]*)/gy;
  let m: RegExpExecArray | null;
  while (re.lastIndex < rendered.length && (m = re.exec(rendered)) !== null) {
    if (m[1] !== undefined) out.push(Number(m[1]));
    else if (m[2] !== undefined) out.push(JSON.parse(m[2]) as string);
    else out.push(m[3]!);
  }
  // Anything the grammar does not cover is kept whole rather than guessed at: the issue still reaches the page.
  if (re.lastIndex !== rendered.length && rendered !== '') return [rendered];
  return out;
}

/** Validates a decoded playbook with the shared schema and the CLI's wording, paths as segments. */
export function checkPlaybook(value: unknown): PlaybookCheck {
  const result = validatePlaybook(value);
  if (result.ok) return { ok: true, playbook: result.playbook };
  return {
    ok: false,
    issues: result.errors.map((e) => ({ path: pathSegments(e.path), message: e.message })),
  };
}
