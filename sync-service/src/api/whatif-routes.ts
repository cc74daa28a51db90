import { checkPlaybook } from '@stagekeeper/shared';
import { Router } from 'express';
import { z } from 'zod';
import type { ApiDeps } from './deps';
import { ApiError } from './errors';
import { sendJson } from './respond';
import { callerOf, jsonBody, verifiedCaller } from './verify';
import { draftProblems, previewWhatIf } from './whatif-preview';

const Body = z.object({
  playbook: z.unknown().refine((v) => v !== undefined, 'required'),
  weeks: z.number().int().min(1).max(52).default(4),
});

/**
 * The settings page's preview before publishing: POST a draft playbook, get what it would have done to the last
 * weeks of the portal's stage visits next to the playbook in force, and the repair preview of the running clocks.
 * Reads only; the draft is not stored.
 */
export function whatIfRoutes(deps: ApiDeps): Router {
  const router = Router();
  const signed = verifiedCaller(deps);
  const clock = deps.clock ?? Date.now;

  router.post('/settings/whatif', ...signed, async (req, res) => {
    const { portalId } = callerOf(req);
    const body = Body.safeParse(jsonBody(req));
    if (!body.success)
      throw new ApiError(
        'invalid_request',
        'The request needs a draft playbook and, optionally, weeks from 1 to 52.',
      );
    const checked = checkPlaybook(body.data.playbook);
    if (!checked.ok)
      throw new ApiError('invalid_playbook', draftProblems(checked.issues.length), checked.issues);
    sendJson(
      res,
      await previewWhatIf(deps, { portalId, draft: checked.playbook, weeks: body.data.weeks, now: clock() }),
    );
  });

  return router;
}
