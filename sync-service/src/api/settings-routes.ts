import { checkPlaybook, type Playbook } from '@stagekeeper/shared';
import { Router } from 'express';
import { z } from 'zod';
import type { ApiDeps } from './deps';
import { ApiError } from './errors';
import { sendJson } from './respond';
import { callerOf, jsonBody, verifiedCaller } from './verify';

const PutBody = z.object({
  baseVersion: z.number().int().nonnegative().nullable(),
  playbook: z.unknown().refine((v) => v !== undefined, 'required'),
});

type PlaybookBody = { version: number | null; updatedAt: string | null; updatedBy: string | null; playbook: Playbook | null };

export function settingsRoutes(deps: ApiDeps): Router {
  const router = Router();
  const signed = verifiedCaller(deps);
  const clock = deps.clock ?? Date.now;

  async function playbookBody(portalId: string, stored: { version: number; playbook: Playbook } | null): Promise<PlaybookBody> {
    if (!stored) return { version: null, updatedAt: null, updatedBy: null, playbook: null };
    const meta = await deps.meta.get(portalId, stored.version);
    return {
      version: stored.version,
      updatedAt: meta ? new Date(meta.updatedAt).toISOString() : null,
      updatedBy: meta?.updatedBy ?? null,
      playbook: stored.playbook,
    };
  }

  router.get('/settings/playbook', ...signed, async (req, res) => {
    const { portalId } = callerOf(req);
    sendJson(res, await playbookBody(portalId, await deps.playbooks.current(portalId)));
  });

  router.put('/settings/playbook', ...signed, async (req, res) => {
    const caller = callerOf(req);
    const { portalId } = caller;
    // A playbook decides what happens to every patient's deal: only the portal's admins change it, and only for
    // a portal that installed the app (a signed request alone proves only that some user of some portal sent it).
    if (!(await deps.install.status(portalId)).installed)
      throw new ApiError('not_installed', 'Stagekeeper is not installed in this HubSpot account; install it before saving a playbook.');
    if (!(await deps.admins.isAdmin(portalId, caller.userId))) {
      deps.log.warn({ portalId, userId: caller.userId }, 'playbook save refused: not an admin of the portal');
      throw new ApiError('forbidden', 'Only an admin of this HubSpot account can change the playbook.');
    }
    const body = PutBody.safeParse(jsonBody(req));
    if (!body.success) throw new ApiError('invalid_request', 'The request needs a baseVersion and a playbook.');
    const { baseVersion, playbook: input } = body.data;

    const outcome = await deps.meta.withSaveLock(portalId, async () => {
      const current = await deps.playbooks.current(portalId);
      // "No playbook yet" may be sent as null or 0; any other mismatch means someone saved in between.
      if ((baseVersion ?? 0) !== (current?.version ?? 0))
        throw new ApiError('version_conflict', 'The playbook was changed by someone else; reload it and apply your edits again.');
      const checked = checkPlaybook(input);
      if (!checked.ok)
        throw new ApiError(
          'invalid_playbook',
          `The playbook has ${checked.issues.length} problem${checked.issues.length === 1 ? '' : 's'}.`,
          checked.issues,
        );
      // The store numbers versions itself (stored + 1), whatever `playbook.version` the page sent.
      const saved = await deps.playbooks.save(portalId, input);
      await deps.meta.set(portalId, saved.version, { updatedAt: clock(), updatedBy: caller.userEmail ?? caller.userId });
      return saved;
    });
    if (!outcome.ran) throw new ApiError('version_conflict', 'Someone else is saving the playbook right now; reload it and try again.');
    deps.log.info({ portalId, playbookVersion: outcome.value.version, userId: caller.userId }, 'playbook saved from settings');
    // Running clocks follow the new version through the worker; a failure here is logged, the next reconcile of
    // each deal applies the version anyway.
    deps.recompute?.(portalId).catch((err: unknown) =>
      deps.log.error({ portalId, err: err instanceof Error ? { name: err.name } : undefined }, 'recompute after playbook save failed'),
    );
    sendJson(res, await playbookBody(portalId, outcome.value));
  });

  router.get('/settings/status', ...signed, async (req, res) => {
    const { portalId } = callerOf(req);
    sendJson(res, await deps.install.status(portalId));
  });

  return router;
}
