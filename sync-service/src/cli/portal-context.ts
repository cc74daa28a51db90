import type { Redis } from 'ioredis';
import { createLogger, type Logger } from '../log';
import { redisKeys, type Keys } from '../state/keys';
import { PlaybookStore } from '../state/playbook-store';
import { cliConfig, withRedis } from './env';
import { CliError, type CliIo } from './io';

export type PortalContext = {
  redis: Redis;
  keys: Keys;
  log: Logger;
  playbooks: PlaybookStore;
  portalId: string;
};

/**
 * What `playbook whatif` needs to read a portal's stores: the environment, a checked --portal (or the only portal
 * with a playbook), a Redis connection that fails fast, and a logger whose warnings (counts only, never row
 * contents) go to stderr. The scorecard command keeps its own portal lookup (main's version also falls back to
 * the sandbox prefix); the two can share one once merged.
 */
export async function withPortal<T>(
  io: CliIo,
  portal: string | undefined,
  fn: (ctx: PortalContext) => Promise<T>,
  openRedis: typeof withRedis = withRedis,
): Promise<T> {
  const config = cliConfig(io.env);
  const portalArg = portal ?? config.hubspot.portalId;
  if (portalArg !== undefined && !/^\d+$/.test(portalArg))
    throw new CliError(`invalid portal id "${portalArg}": expected digits`);
  const log = createLogger('warn', { write: (msg: string) => io.err(msg) });
  return openRedis(config.redisUrl, async (redis: Redis) => {
    const keys = redisKeys(config.keyPrefix);
    const playbooks = new PlaybookStore(redis, keys, log);
    return fn({
      redis,
      keys,
      log,
      playbooks,
      portalId: await resolvePortal(playbooks, portalArg),
    });
  });
}

async function resolvePortal(store: PlaybookStore, asked: string | undefined): Promise<string> {
  if (asked) return asked;
  const portals = await store.portals();
  if (portals.length === 1) return portals[0]!;
  throw new CliError(
    portals.length === 0
      ? 'no portal has a stored playbook; pass --portal ID (or set HUBSPOT_PORTAL_ID)'
      : `several portals have data (${portals.join(', ')}); pass --portal ID`,
  );
}
