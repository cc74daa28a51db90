import { checkPlaybook, whatIf } from '@stagekeeper/shared';
import { Router } from 'express';
import { z } from 'zod';
import type { ApiDeps } from './deps';
import { ApiError } from './errors';
import { sendJson } from './respond';
import { callerOf, jsonBody, verifiedCaller } from './verify';

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
    if (!body.success) throw new ApiError('invalid_request', 'The request needs a draft playbook and, optionally, weeks from 1 to 52.');
    const checked = checkPlaybook(body.data.playbook);
    if (!checked.ok)
      throw new ApiError('invalid_playbook', `The draft has ${checked.issues.length} problem${checked.issues.length === 1 ? '' : 's'}.`, checked.issues);
    if (!deps.whatIfData) throw new ApiError('unavailable', 'The what-if preview is not available on this service.');
    const current = await deps.playbooks.current(portalId);
    if (!current) throw new ApiError('not_found', 'No playbook is in force yet: there is nothing to compare the draft with.');
    const now = clock();
    const { weeks } = body.data;
    const data = await deps.whatIfData(portalId, now, weeks);
    sendJson(res, whatIf({ ...data, current: current.playbook, draft: { ...checked.playbook, version: current.version + 1 }, now, weeks }));
  });

  return router;
}
