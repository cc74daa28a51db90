import { readFileSync } from 'node:fs';
import { EXAMPLE_PLAYBOOKS, type ExamplePlaybookName } from './examples';
import { formatPlaybookErrors, parsePlaybook, type PlaybookParseResult } from './load';
import type { Playbook } from './schema';

/** The file-system shell around `parsePlaybook`; the format follows the extension (.json or .yaml/.yml). */
export function loadPlaybookFile(path: string): PlaybookParseResult {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    return { ok: false, errors: [{ path: [], message: `cannot read the file (${code})`, source: path }] };
  }
  return parsePlaybook(text, 'auto', path);
}

/** A shipped example, validated; throws with the formatted errors because a broken example is a bug. */
export function loadExamplePlaybook(name: ExamplePlaybookName): Playbook {
  const result = loadPlaybookFile(EXAMPLE_PLAYBOOKS[name]);
  if (!result.ok)
    throw new Error(`example playbook "${name}" is invalid:\n${formatPlaybookErrors(result.errors)}`);
  return result.playbook;
}
