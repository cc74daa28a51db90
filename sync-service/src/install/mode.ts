import type { Redis } from 'ioredis';
import { ConfigError, type Config } from '../config';
import { OAuthTokenProvider, StaticTokenProvider, type TokenProvider } from '../hubspot/client';
import type { Logger } from '../log';
import { parseKeyRing } from './encryption-key';
import { ReloadableTokenProvider } from './reloadable-provider';
import { InstallRegistry } from './registry';
import { uninstalledInHubSpot } from './uninstall';
import { CALLBACK_PATH } from './scopes';
import { EncryptedRedisTokenStore } from './token-store';

/**
 * How the service gets HubSpot tokens:
 * - static: HUBSPOT_ACCESS_TOKEN + HUBSPOT_PORTAL_ID, one portal with a private-app (static auth) token, registered
 *   at start. It wins when both modes are configured, because it names its portal explicitly.
 * - oauth: HUBSPOT_CLIENT_ID + HUBSPOT_CLIENT_SECRET + TOKEN_ENCRYPTION_KEY; portals arrive through /oauth/install.
 */
export type TokenMode =
  | { kind: 'static'; tokens: TokenProvider; registry: InstallRegistry; portalId: string }
  | {
      kind: 'oauth';
      /** Pass to createOAuthRouter as `tokenCache` so an install in this process is picked up at once. */
      tokens: ReloadableTokenProvider;
      registry: InstallRegistry;
      store: EncryptedRedisTokenStore;
      clientId: string;
      clientSecret: string;
      /** `${PUBLIC_URL}/oauth/callback`, or undefined when PUBLIC_URL is unset (the router then cannot be built). */
      redirectUri: string | undefined;
    };

export type TokenModeOptions = {
  /** The sandbox portal's URL for token refreshes; HubSpot's host otherwise. */
  basePath?: string;
  log?: Logger;
  clock?: () => number;
};

export async function createTokenProvider(
  config: Config,
  redis: Redis,
  opts: TokenModeOptions = {},
): Promise<TokenMode> {
  const hs = config.hubspot;
  const registry = new InstallRegistry(redis, config.keyPrefix, opts.clock);

  if (hs.accessToken) {
    if (!hs.portalId)
      throw new ConfigError([
        'HUBSPOT_PORTAL_ID: required when HUBSPOT_ACCESS_TOKEN is set (a static token belongs to one portal)',
      ]);
    await registry.markInstalled(hs.portalId, { mode: 'static', scopes: null });
    // Keyed by portal, so a webhook or job for any other portal fails with NoTokenError instead of using this token.
    return {
      kind: 'static',
      tokens: new StaticTokenProvider({ [hs.portalId]: hs.accessToken }),
      registry,
      portalId: hs.portalId,
    };
  }

  const problems: string[] = [];
  if (!hs.clientId)
    problems.push(
      'HUBSPOT_CLIENT_ID: required for OAuth installs (or set HUBSPOT_ACCESS_TOKEN for one portal)',
    );
  if (!hs.clientSecret) problems.push('HUBSPOT_CLIENT_SECRET: required for OAuth installs');
  if (!hs.tokenEncryptionKey)
    problems.push(
      'TOKEN_ENCRYPTION_KEY: required for OAuth installs (tokens are encrypted at rest); generate one with `openssl rand -base64 32`',
    );
  if (problems.length) throw new ConfigError(problems);

  const store = new EncryptedRedisTokenStore({
    redis,
    prefix: config.keyPrefix,
    keys: parseKeyRing(hs.tokenEncryptionKey!),
    log: opts.log,
  });
  const tokens = new ReloadableTokenProvider(
    () =>
      new OAuthTokenProvider({
        clientId: hs.clientId!,
        clientSecret: hs.clientSecret!,
        store,
        ...(opts.basePath ? { basePath: opts.basePath } : {}),
        ...(opts.clock ? { now: opts.clock } : {}),
        onRefreshRefused: (portalId) => uninstalledInHubSpot(registry, portalId, opts.log),
      }),
  );
  return {
    kind: 'oauth',
    tokens,
    registry,
    store,
    clientId: hs.clientId!,
    clientSecret: hs.clientSecret!,
    redirectUri: config.publicUrl ? `${config.publicUrl}${CALLBACK_PATH}` : undefined,
  };
}
