import { checkPlaybook, type Playbook } from '@stagekeeper/shared';
import { starterPlaybook } from '../install/provisioning';
import { unsubscribedProperties, type UnsubscribedProperty } from '../webhooks/subscriptions';
import { Router } from 'express';
import { z } from 'zod';
import type { ApiDeps } from './deps';
import { assertMayWriteSettings } from './settings-authz';
import { ApiError } from './errors';
import { sendJson } from './respond';
import { callerOf, jsonBody, verifiedCaller } from './verify';

const PutBody = z.object({
  baseVersion: z.number().int().nonnegative().nullable(),
  playbook: z.unknown().refine((v) => v !== undefined, 'required'),
});

export type PlaybookBody = {
  version: number | null;
  updatedAt: string | null;
  updatedBy: string | null;
  playbook: Playbook | null;
  /** Properties the playbook reads that the app has no webhook subscription for (issue 13): named with the fix. */
  unsubscribedProperties: UnsubscribedProperty[];
  /** With no playbook yet: one the page can publish as version 1 (the canonical telehealth playbook), no CLI needed. */
  starter: Playbook | null;
};

export function settingsRoutes(deps: ApiDeps): Router {
  const router = Router();
  const signed = verifiedCaller(deps);
  const clock = deps.clock ?? Date.now;

  async function playbookBody(
    portalId: string,
    stored: { version: number; playbook: Playbook } | null,
  ): Promise<PlaybookBody> {
    if (!stored)
      return {
        version: null,
        updatedAt: null,
        updatedBy: null,
        playbook: null,
        unsubscribedProperties: [],
        starter: starterPlaybook(),
      };
    const meta = await deps.meta.get(portalId, stored.version);
    return {
      version: stored.version,
      updatedAt: meta ? new Date(meta.updatedAt).toISOString() : null,
      updatedBy: meta?.updatedBy ?? null,
      playbook: stored.playbook,
      unsubscribedProperties: unsubscribedProperties(stored.playbook),
      starter: null,
    };
  }

  router.get('/settings/playbook', ...signed, async (req, res) => {
    const { portalId } = callerOf(req);
    sendJson(res, await playbookBody(portalId, await deps.playbooks.current(portalId)));
  });

  router.put('/settings/playbook', ...signed, async (req, res) => {
    const caller = callerOf(req);
    const { portalId } = caller;
    // A playbook decides what happens to every patient's deal: only the portal's admins change it.
    await assertMayWriteSettings(deps, caller, 'the playbook');
    const body = PutBody.safeParse(jsonBody(req));
    if (!body.success)
      throw new ApiError('invalid_request', 'The request needs a baseVersion and a playbook.');
    const { baseVersion, playbook: input } = body.data;

    const outcome = await deps.meta.withSaveLock(portalId, async () => {
      const current = await deps.playbooks.current(portalId);
      // "No playbook yet" may be sent as null or 0; any other mismatch means someone saved in between.
      if ((baseVersion ?? 0) !== (current?.version ?? 0))
        throw new ApiError(
          'version_conflict',
          'The playbook was changed by someone else; reload it and apply your edits again.',
        );
      const checked = checkPlaybook(input);
      if (!checked.ok)
        throw new ApiError(
          'invalid_playbook',
          `The playbook has ${checked.issues.length} problem${checked.issues.length === 1 ? '' : 's'}.`,
          checked.issues,
        );
      // The store numbers versions itself (stored + 1), whatever `playbook.version` the page sent.
      const saved = await deps.playbooks.save(portalId, input);
      await deps.meta.set(portalId, saved.version, {
        updatedAt: clock(),
        updatedBy: caller.userEmail ?? caller.userId,
      });
      return saved;
    });
    if (!outcome.ran)
      throw new ApiError(
        'version_conflict',
        'Someone else is saving the playbook right now; reload it and try again.',
      );
    deps.log.info(
      { portalId, playbookVersion: outcome.value.version, userId: caller.userId },
      'playbook saved from settings',
    );
    // Running clocks follow the new version through the worker; a failure here is logged, the next reconcile of
    // each deal applies the version anyway.
    deps
      .recompute?.(portalId)
      .catch((err: unknown) =>
        deps.log.error(
          { portalId, err: err instanceof Error ? { name: err.name } : undefined },
          'recompute after playbook save failed',
        ),
      );
    sendJson(res, await playbookBody(portalId, outcome.value));
  });

  router.get('/settings/status', ...signed, async (req, res) => {
    const { portalId } = callerOf(req);
    sendJson(res, await deps.install.status(portalId));
  });

  return router;
}
