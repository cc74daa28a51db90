import { whatIf, type Playbook, type WhatIfReport } from '@stagekeeper/shared';
import type { ApiDeps } from './deps';
import { ApiError } from './errors';

export type WhatIfPreviewDeps = {
  playbooks: Pick<ApiDeps['playbooks'], 'current'>;
  whatIfData?: ApiDeps['whatIfData'];
};

/**
 * A validated draft replayed next to the playbook in force over the portal's last `weeks` weeks, with the repair
 * preview of the running clocks. The one home of the settings page's preview: `POST /api/settings/whatif` and the
 * sandbox's local ops page both answer through it, so they cannot drift apart. Reads only; the draft is not stored.
 */
export async function previewWhatIf(
  deps: WhatIfPreviewDeps,
  q: { portalId: string; draft: Playbook; weeks: number; now: number },
): Promise<WhatIfReport> {
  if (!deps.whatIfData)
    throw new ApiError('unavailable', 'The what-if preview is not available on this service.');
  const current = await deps.playbooks.current(q.portalId);
  if (!current)
    throw new ApiError(
      'not_found',
      'No playbook is in force yet: there is nothing to compare the draft with.',
    );
  const data = await deps.whatIfData(q.portalId, q.now, q.weeks);
  // The stored playbook's version numbers the draft: the next one, as publishing it would.
  return whatIf({
    ...data,
    current: current.playbook,
    draft: { ...q.draft, version: current.version + 1 },
    now: q.now,
    weeks: q.weeks,
  });
}

/** The one sentence over a draft's validation problems (the problems themselves are listed beside it). */
export const draftProblems = (count: number): string =>
  `The draft has ${count} problem${count === 1 ? '' : 's'}.`;
