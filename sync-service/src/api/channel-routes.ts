import { Router, type Request } from 'express';
import { z } from 'zod';
import { ChannelId, maskChannel, type PortalChannels } from '../notify/channel-config';
import { ChannelConfigError } from '../notify/channel-store';
import { sendTestPage } from '../notify/test-page';
import type { ApiDeps } from './deps';
import { ApiError } from './errors';
import { sendJson } from './respond';
import { assertMayWriteSettings } from './settings-authz';
import { callerOf, jsonBody, verifiedCaller } from './verify';

/**
 * The settings page's paging channels: list (secrets masked, with each channel's delivery health), add or replace,
 * remove, and choose the default. Writes go through the settings authorization; no answer ever carries a secret.
 */

const PutBody = z.object({ config: z.unknown(), makeDefault: z.boolean().optional() });
const DefaultBody = z.object({ channel: ChannelId.nullable() });

function channelIdOf(req: Request): string {
  const parsed = ChannelId.safeParse(String(req.params.channelId ?? ''));
  if (!parsed.success)
    throw new ApiError('invalid_request', 'A channel id is 1-40 lower-case letters, digits, "-" or "_".');
  return parsed.data;
}

export function channelRoutes(deps: ApiDeps & { channels: NonNullable<ApiDeps['channels']> }): Router {
  const router = Router();
  const signed = verifiedCaller(deps);
  const { channels } = deps;

  async function listing(portalId: string, doc?: PortalChannels) {
    const current = doc ?? (await channels.get(portalId));
    const health = await channels.health(portalId);
    return {
      canStore: channels.canStore,
      defaultChannel: current.defaultChannel,
      channels: Object.entries(current.channels)
        .map(([id, c]) => ({ ...maskChannel(id, c, current.defaultChannel), health: health[id] ?? null }))
        .sort((a, b) => a.id.localeCompare(b.id)),
    };
  }

  const writing = async (req: Request, write: (portalId: string) => Promise<PortalChannels>) => {
    const caller = callerOf(req);
    await assertMayWriteSettings(deps, caller, 'paging channels');
    try {
      const doc = await write(caller.portalId);
      deps.log.info(
        { portalId: caller.portalId, userId: caller.userId, channels: Object.keys(doc.channels).length },
        'paging channels changed',
      );
      return listing(caller.portalId, doc);
    } catch (err) {
      if (err instanceof ChannelConfigError)
        throw new ApiError('invalid_request', err.message, err.issues.length ? err.issues : undefined);
      throw err;
    }
  };

  router.get('/settings/channels', ...signed, async (req, res) => {
    sendJson(res, await listing(callerOf(req).portalId));
  });

  router.put('/settings/channels/:channelId', ...signed, async (req, res) => {
    const id = channelIdOf(req);
    const body = PutBody.safeParse(jsonBody(req));
    if (!body.success || body.data.config === undefined)
      throw new ApiError('invalid_request', 'The request needs a channel config.');
    sendJson(
      res,
      await writing(req, (portalId) =>
        channels.put(portalId, id, body.data.config, body.data.makeDefault ?? false),
      ),
    );
  });

  router.delete('/settings/channels/:channelId', ...signed, async (req, res) => {
    const id = channelIdOf(req);
    sendJson(res, await writing(req, (portalId) => channels.remove(portalId, id)));
  });

  router.put('/settings/channels-default', ...signed, async (req, res) => {
    const body = DefaultBody.safeParse(jsonBody(req));
    if (!body.success)
      throw new ApiError('invalid_request', 'The request needs a channel id, or null for none.');
    sendJson(res, await writing(req, (portalId) => channels.setDefault(portalId, body.data.channel)));
  });

  // Sends a test page through the channel now (PagerDuty: opened and resolved); answers what the service said.
  router.post('/settings/channels/:channelId/test', ...signed, async (req, res) => {
    const caller = callerOf(req);
    await assertMayWriteSettings(deps, caller, 'paging channels');
    const id = channelIdOf(req);
    try {
      const result = await sendTestPage(channels, caller.portalId, id);
      sendJson(res, { ...result, ...(await listing(caller.portalId)) });
    } catch (err) {
      if (err instanceof ChannelConfigError) throw new ApiError('not_found', err.message);
      throw err;
    }
  });

  return router;
}
