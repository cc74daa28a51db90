import {
  parsePlaybook,
  playbookYaml,
  renderPlaybookPath,
  type PlaybookError,
  type WhatIfReport,
} from '@stagekeeper/shared';
import { z } from 'zod';
import { ApiError } from '../api/errors';
import { draftProblems, previewWhatIf } from '../api/whatif-preview';
import type { LocalUiSource } from './source';

const Body = z.object({ yaml: z.string(), weeks: z.number().int().min(1).max(52).default(4) });

export type LocalWhatIfAnswer =
  | { status: 200; body: WhatIfReport }
  | { status: number; body: { error: string; code?: string; errors?: ShownPlaybookError[] } };

/** A playbook error as the local page lists it: the path written out (`pipelines[0].stages[3].sla.target`). */
export type ShownPlaybookError = Omit<PlaybookError, 'path'> & { path: string };

/** The playbook in force as YAML, to prefill the page's draft editor. */
export async function playbookInForce(src: LocalUiSource): Promise<{ version: number; yaml: string } | null> {
  const current = await src.playbooks.current(src.portalId);
  return current && { version: current.version, yaml: playbookYaml(current.playbook) };
}

/**
 * The page's "Preview impact": the draft YAML parsed with line numbers for its errors, then the settings page's
 * own preview (previewWhatIf, the same reader and replay) on the sandbox portal at the demo clock's now.
 */
export async function localWhatIf(src: LocalUiSource, body: unknown): Promise<LocalWhatIfAnswer> {
  const parsed = Body.safeParse(body);
  if (!parsed.success)
    return { status: 400, body: { error: 'Send JSON {"yaml": "<the draft playbook>", "weeks": 1-52}.' } };
  const draft = parsePlaybook(parsed.data.yaml, 'yaml', 'draft');
  if (!draft.ok)
    return {
      status: 400,
      body: {
        error: draftProblems(draft.errors.length),
        code: 'invalid_playbook',
        errors: draft.errors.map((e) => ({ ...e, path: renderPlaybookPath(e.path) })),
      },
    };
  try {
    const report = await previewWhatIf(src, {
      portalId: src.portalId,
      draft: draft.playbook,
      weeks: parsed.data.weeks,
      now: src.clock(),
    });
    return { status: 200, body: report };
  } catch (err) {
    if (err instanceof ApiError) return { status: err.status, body: { error: err.message, code: err.code } };
    throw err;
  }
}
