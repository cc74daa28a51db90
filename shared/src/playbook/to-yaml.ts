import { stringify } from 'yaml';
import type { Playbook } from './schema';

/**
 * A playbook as YAML text that `parsePlaybook` reads back to the same playbook: what an editor starts a draft from
 * when only the validated playbook is at hand (the stored one in force; its source file's comments are not kept).
 * lineWidth 0: long labels and subjects stay on one line rather than being folded.
 */
export function playbookYaml(playbook: Playbook): string {
  return stringify(playbook, { lineWidth: 0 });
}
