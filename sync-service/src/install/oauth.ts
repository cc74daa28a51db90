import { Client } from '@hubspot/api-client';
import express, { type Request, type Response, type Router } from 'express';
import { apiErrorHandler } from '../api/errors';
import { callerOf, verifiedCaller } from '../api/verify';
import type { ReplayStore } from '../http/replay-store';
import type { OAuthTokens } from '../hubspot/client';
import { classify } from '../hubspot/errors';
import type { Logger } from '../log';
import { OAuthStateSigner } from './oauth-state';
import { page } from './pages';
import type { ProvisionPortal } from './provisioning';
import type { InstallRegistry } from './registry';
import { missingScopes, OPTIONAL_SCOPES, REQUIRED_SCOPES } from './scopes';
import type { EncryptedRedisTokenStore } from './token-store';
import { uninstallPortal } from './uninstall';

/**
 * The app install flow, mounted at `/oauth`:
 *   GET  /oauth/install    → HubSpot's authorize page, with a signed, expiring state (also set as a cookie)
 *   GET  /oauth/callback   → state checked (when one was issued), code exchanged, portal identified, tokens
 *                            stored encrypted, portal registered, properties provisioned, status recorded.
 *                            An install started on HubSpot's side (the app listing, the developer project's
 *                            install link) arrives with no state and no cookie: nothing was issued, so nothing
 *                            is required. The code exchange is bound to our redirect URI and client secret.
 *   POST /oauth/uninstall  → signed (v3, like hubspot.fetch) request from the settings page: disconnect
 */

/** `userId`: the HubSpot user who installed (kept as the portal's admin); absent when HubSpot does not say. */
export type PortalIdentity = { portalId: string; scopes: string[]; userId?: string };
/** Which portal a fresh access token belongs to. Injectable for tests and for hosts other than HubSpot's. */
export type LookupPortal = (accessToken: string) => Promise<PortalIdentity>;

export type OAuthRouterOptions = {
  clientId: string;
  clientSecret: string;
  /** Absolute, and listed in app-hsmeta.json `auth.redirectUrls`: HubSpot compares it exactly. */
  redirectUri: string;
  tokens: EncryptedRedisTokenStore;
  registry: InstallRegistry;
  provisionPortal: ProvisionPortal;
  log: Logger;
  /** HubSpot's API host for token calls; the sandbox portal's URL in tests. */
  basePath?: string;
  authorizeUrl?: string;
  lookupPortal?: LookupPortal;
  revoke?: (refreshToken: string) => Promise<void>;
  /** This process's token provider (mode.ts ReloadableTokenProvider): told to reread a portal's tokens after (un)install. */
  tokenCache?: { forget(portalId: string): void };
  /** For /uninstall signatures behind a proxy; see config PUBLIC_URL. */
  publicUrl?: string;
  /** Signed uninstalls already received: the same signed request again is refused (409 replayed). */
  replay?: Pick<ReplayStore, 'claim'>;
  clock?: () => number;
  stateTtlMs?: number;
};

export const HUBSPOT_AUTHORIZE_URL = 'https://app.hubspot.com/oauth/authorize';
const STATE_COOKIE = 'sk_oauth_state';

export function hubspotPortalLookup(basePath?: string): LookupPortal {
  const client = new Client(basePath ? { basePath } : {});
  return async (accessToken) => {
    const info = await client.oauth.accessTokensApi.get(accessToken);
    if (!Number.isSafeInteger(info.hubId) || info.hubId <= 0) throw new Error('token info has no hub id');
    return {
      portalId: String(info.hubId),
      scopes: Array.isArray(info.scopes) ? info.scopes : [],
      ...(Number.isSafeInteger(info.userId) && info.userId > 0 ? { userId: String(info.userId) } : {}),
    };
  };
}

export function authorizeUrl(opts: {
  base?: string;
  clientId: string;
  redirectUri: string;
  state: string;
}): string {
  const url = new URL(opts.base ?? HUBSPOT_AUTHORIZE_URL);
  url.searchParams.set('client_id', opts.clientId);
  url.searchParams.set('redirect_uri', opts.redirectUri);
  // HubSpot separates scopes with spaces (URLSearchParams encodes them as "+", which HubSpot accepts).
  url.searchParams.set('scope', REQUIRED_SCOPES.join(' '));
  if (OPTIONAL_SCOPES.length) url.searchParams.set('optional_scope', OPTIONAL_SCOPES.join(' '));
  url.searchParams.set('state', opts.state);
  return url.toString();
}

export function createOAuthRouter(opts: OAuthRouterOptions): Router {
  const router = express.Router();
  const clock = opts.clock ?? Date.now;
  const states = new OAuthStateSigner(opts.clientSecret, opts.stateTtlMs, clock);
  const oauthClient = new Client(opts.basePath ? { basePath: opts.basePath } : {});
  const lookupPortal = opts.lookupPortal ?? hubspotPortalLookup(opts.basePath);
  const callback = new URL(opts.redirectUri);
  const secureCookie = callback.protocol === 'https:';
  const ttlSeconds = Math.ceil((opts.stateTtlMs ?? 10 * 60_000) / 1000);
  const restart = { href: new URL('install', callback).toString(), text: 'Start the install again' };

  const html = (res: Response, status: number, body: string) => {
    // The callback URL carries the code: keep it out of caches and out of Referer headers of any link followed.
    res.set({ 'Cache-Control': 'no-store', 'Referrer-Policy': 'no-referrer' });
    res.status(status).type('html').send(body);
  };
  const clearCookie = (res: Response) =>
    res.append(
      'Set-Cookie',
      `${STATE_COOKIE}=; Path=${callback.pathname}; Max-Age=0; HttpOnly; SameSite=Lax${secureCookie ? '; Secure' : ''}`,
    );

  router.get('/install', (_req, res) => {
    const state = states.issue();
    // Binds the callback to the browser that started the install, not just to any state we issued.
    res.append(
      'Set-Cookie',
      `${STATE_COOKIE}=${state}; Path=${callback.pathname}; Max-Age=${ttlSeconds}; HttpOnly; SameSite=Lax${secureCookie ? '; Secure' : ''}`,
    );
    res.set('Cache-Control', 'no-store');
    res.redirect(
      302,
      authorizeUrl({
        base: opts.authorizeUrl,
        clientId: opts.clientId,
        redirectUri: opts.redirectUri,
        state,
      }),
    );
  });

  router.get('/callback', async (req, res) => {
    const q = req.query;
    const code = typeof q.code === 'string' ? q.code : '';
    const state = typeof q.state === 'string' ? q.state : '';
    clearCookie(res);

    // A state in the callback means this service issued one: it must be this browser's (compared first, so a
    // forged link learns nothing), carry our signature and be unexpired. No state means HubSpot started the install.
    if (state) {
      if (cookie(req, STATE_COOKIE) !== state)
        return html(
          res,
          400,
          page(
            'Install started in another browser',
            ['Finish the install in the browser that started it. Nothing was installed.'],
            restart,
          ),
        );
      const verdict = states.verify(state);
      if (!verdict.ok) {
        opts.log.warn({ reason: verdict.reason }, 'oauth state rejected');
        return verdict.reason === 'expired'
          ? html(
              res,
              400,
              page(
                'Install link expired',
                ['Each install link works for 10 minutes. Nothing was installed.'],
                restart,
              ),
            )
          : html(
              res,
              400,
              page(
                'Install link not recognised',
                ['The install link was not issued by this service. Nothing was installed.'],
                restart,
              ),
            );
      }
    }
    if (typeof q.error === 'string')
      return html(
        res,
        400,
        page(
          'Install not completed',
          ['HubSpot did not authorize Stagekeeper, so nothing was installed.'],
          restart,
        ),
      );
    if (!code)
      return html(
        res,
        400,
        page(
          'Install link incomplete',
          ['The callback is missing its code, so nothing was installed.'],
          restart,
        ),
      );
    opts.log.info({ initiatedBy: state ? 'service' : 'hubspot' }, 'oauth callback accepted');

    const requestedAt = clock();
    let tokens: OAuthTokens;
    try {
      const r = await oauthClient.oauth.tokensApi.create(
        'authorization_code',
        code,
        opts.redirectUri,
        opts.clientId,
        opts.clientSecret,
      );
      // Counted from when we asked, so the lifetime is never overestimated.
      tokens = {
        accessToken: r.accessToken,
        refreshToken: r.refreshToken,
        expiresAt: requestedAt + r.expiresIn * 1000,
      };
    } catch (err) {
      const f = classify(err);
      opts.log.warn(
        {
          failure: f.kind,
          status: 'status' in f ? f.status : undefined,
          hubspotStatus: oauthStatusWord(err),
        },
        'oauth code exchange failed',
      );
      if (f.kind === 'request')
        return html(
          res,
          400,
          page(
            'HubSpot refused the install',
            [
              `HubSpot rejected the authorization (${oauthStatusWord(err) ?? f.status}). Nothing was installed.`,
            ],
            restart,
          ),
        );
      return html(
        res,
        502,
        page(
          'HubSpot is unavailable',
          ['The install could not be completed because HubSpot did not answer. Nothing was installed.'],
          restart,
        ),
      );
    }

    let identity: PortalIdentity;
    try {
      identity = await lookupPortal(tokens.accessToken);
    } catch (err) {
      opts.log.warn({ failure: classify(err).kind }, 'oauth portal lookup failed');
      return html(
        res,
        502,
        page(
          'HubSpot is unavailable',
          ['HubSpot did not say which account was installed. Nothing was stored.'],
          restart,
        ),
      );
    }
    const { portalId } = identity;

    await opts.tokens.set(portalId, tokens);
    opts.tokenCache?.forget(portalId);
    await opts.registry.markInstalled(portalId, {
      mode: 'oauth',
      scopes: identity.scopes,
      ...(identity.userId ? { admins: [identity.userId] } : {}),
    });
    const missing = missingScopes(identity.scopes);
    opts.log.info({ portalId, missingScopes: missing }, 'app installed');

    const lines: string[] = [];
    await opts.registry.markProvisioning(portalId);
    try {
      const { report, checkedPlaybook, publishedStarter } = await opts.provisionPortal(portalId, {
        grantedScopes: identity.scopes,
      });
      await opts.registry.markProvisioned(portalId, report, { checkedPlaybook });
      const status = await opts.registry.get(portalId);
      const p = status.provisioning;
      lines.push(`Properties provisioned (${p.propertiesPresent}/${p.propertiesExpected}).`);
      if (publishedStarter)
        lines.push(
          `Your pipelines match the ${publishedStarter.name} playbook, so it is in force as version ${publishedStarter.version}; tune it in the app's settings page.`,
        );
      else if (!checkedPlaybook)
        lines.push("No playbook yet: publish one from the app's settings page (no command line needed).");
      opts.log.info({ portalId, state: p.state, issues: p.issues.length }, 'install provisioning done');
      return html(
        res,
        200,
        page(
          'Stagekeeper is connected',
          [`HubSpot account ${portalId} is connected.`, ...lines, ...missingLine(missing)],
          undefined,
          p.issues,
        ),
      );
    } catch (err) {
      const f = classify(err);
      const error =
        f.kind === 'request'
          ? `HubSpot refused a provisioning request (${f.status})`
          : 'HubSpot was unavailable during provisioning';
      await opts.registry.markProvisionFailed(
        portalId,
        `${error}; it is retried on the next playbook save or deploy.`,
      );
      opts.log.warn({ portalId, failure: f.kind }, 'install provisioning failed');
      return html(
        res,
        200,
        page('Stagekeeper is connected, setup incomplete', [
          `HubSpot account ${portalId} is connected, but ${error}.`,
          ...missingLine(missing),
        ]),
      );
    }
  });

  // The same signed path as the settings API (hubspot.fetch): headers checked before the body is read, the
  // signature over the public URL, the portal and user from the signed query, and a replay refused.
  const signed = verifiedCaller({
    clientSecret: opts.clientSecret,
    publicUrl: opts.publicUrl,
    log: opts.log,
    clock,
    maxBodyBytes: 16 * 1024,
    ...(opts.replay ? { replay: opts.replay } : {}),
  });
  router.post('/uninstall', ...signed, async (req, res, next) => {
    try {
      const { portalId, userId } = callerOf(req);
      // Any user of the portal can make the settings page send this; only the portal's admins may act on it.
      if (!(await opts.registry.isAdmin(portalId, userId))) {
        opts.log.warn({ portalId, userId }, 'uninstall refused: not an admin of the portal');
        return res.status(403).json({
          error: {
            code: 'forbidden',
            message: 'Only an admin of this HubSpot account can disconnect Stagekeeper.',
          },
        });
      }
      await uninstallPortal(
        {
          tokens: opts.tokens,
          registry: opts.registry,
          revoke: opts.revoke,
          basePath: opts.basePath,
          log: opts.log,
        },
        portalId,
      );
      opts.tokenCache?.forget(portalId);
      return res.json({ portalId: Number(portalId), installed: false });
    } catch (err) {
      return next(err);
    }
  });
  router.use('/uninstall', apiErrorHandler(opts.log));

  return router;
}

const missingLine = (missing: string[]) =>
  missing.length
    ? [
        `HubSpot granted fewer scopes than Stagekeeper needs (missing: ${missing.join(', ')}); reinstall to grant them.`,
      ]
    : [];

function cookie(req: Request, name: string): string | undefined {
  for (const part of (req.get('cookie') ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

/** HubSpot's OAuth errors carry a code word (`BAD_AUTH_CODE`, `BAD_REDIRECT_URI`…) worth logging; never the code itself. */
function oauthStatusWord(err: unknown): string | undefined {
  const body = (err as { body?: unknown } | null)?.body;
  const word = typeof body === 'object' && body !== null ? (body as { status?: unknown }).status : undefined;
  return typeof word === 'string' && /^[A-Z_]{1,40}$/.test(word) ? word : undefined;
}
