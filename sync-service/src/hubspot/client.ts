import { AsyncLocalStorage } from 'node:async_hooks';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { Client } from '@hubspot/api-client';
import { classify, HubSpotRequestError, HubSpotUnavailableError } from './errors';

/**
 * Per-portal @hubspot/api-client instances and the tokens they use.
 *
 * Clients are built without `numberOfApiCallRetries` and without `limiterOptions`: the library's retry waits
 * blindly (10 s × attempt on any burst 429, nothing on daily) and its Bottleneck limiter is per process, while
 * call.ts retries by HubSpot's error bodies through a Redis limiter all workers share. Note the library keeps its
 * decorators in a process-wide singleton that every `new Client()` resets, so nothing else in this process should
 * build a Client with retries or a limiter either.
 */

export type OAuthTokens = {
  accessToken: string;
  refreshToken: string;
  /** Epoch ms when the access token stops working. */
  expiresAt: number;
};

/** Where OAuth tokens live between processes; encryption at rest is the store's concern. */
export interface TokenStore {
  get(portalId: string): Promise<OAuthTokens | null>;
  set(portalId: string, tokens: OAuthTokens): Promise<void>;
}

export interface TokenProvider {
  accessToken(portalId: string): Promise<string>;
  /**
   * HubSpot rejected `rejected` as expired. Returns true when a different token is now available (refreshed here or
   * by another caller), false when there is nothing to refresh (static tokens).
   */
  refresh(portalId: string, rejected: string): Promise<boolean>;
}

export class NoTokenError extends Error {
  override readonly name = 'NoTokenError';
  constructor(readonly portalId: string) {
    super(`no HubSpot token for portal ${portalId} (app not installed, or tokens lost)`);
  }
}

/** A private-app token (one portal) or a fixed token per portal. */
export class StaticTokenProvider implements TokenProvider {
  constructor(private readonly tokens: string | Record<string, string>) {}

  async accessToken(portalId: string): Promise<string> {
    const token = typeof this.tokens === 'string' ? this.tokens : this.tokens[portalId];
    if (!token) throw new NoTokenError(portalId);
    return token;
  }

  async refresh(): Promise<boolean> {
    return false;
  }
}

export type OAuthTokenProviderOptions = {
  clientId: string;
  clientSecret: string;
  store: TokenStore;
  /** For the sandbox portal; HubSpot's own host otherwise. */
  basePath?: string;
  /** Refresh this long before `expiresAt` so no call goes out with a token about to die in flight. */
  refreshEarlyMs?: number;
  now?: () => number;
  /** Attempts for the refresh call itself on 5xx / network errors. */
  refreshAttempts?: number;
  sleep?: (ms: number) => Promise<void>;
  /**
   * HubSpot refused the stored refresh token (BAD_REFRESH_TOKEN / invalid_grant): the app was uninstalled on
   * HubSpot's side, or its access revoked. HubSpot's project apps get no uninstall webhook (only the webhooks
   * journal API has an APP_UNINSTALL event), so this refusal is how an uninstall is noticed.
   */
  onRefreshRefused?: (portalId: string) => Promise<void>;
};

/** HubSpot's word for a refresh token that no longer exists (uninstall, revoke). */
function refreshRefused(err: unknown): boolean {
  const body = (err as { body?: unknown } | null)?.body;
  if (typeof body !== 'object' || body === null) return false;
  const b = body as { status?: unknown; error?: unknown };
  return b.status === 'BAD_REFRESH_TOKEN' || b.error === 'invalid_grant';
}

export class OAuthTokenProvider implements TokenProvider {
  private readonly cache = new Map<string, OAuthTokens>();
  private readonly inflight = new Map<string, Promise<OAuthTokens>>();
  private readonly early: number;
  private readonly now: () => number;
  private readonly oauthClient: Client;

  constructor(private readonly opts: OAuthTokenProviderOptions) {
    this.early = opts.refreshEarlyMs ?? 5 * 60_000;
    this.now = opts.now ?? Date.now;
    this.oauthClient = new Client(opts.basePath ? { basePath: opts.basePath } : {});
  }

  async accessToken(portalId: string): Promise<string> {
    const cached = this.cache.get(portalId) ?? (await this.load(portalId));
    if (cached.expiresAt - this.now() > this.early) return cached.accessToken;
    return (await this.refreshOnce(portalId, cached.accessToken)).accessToken;
  }

  async refresh(portalId: string, rejected: string): Promise<boolean> {
    const next = await this.refreshOnce(portalId, rejected);
    return next.accessToken !== rejected;
  }

  private async load(portalId: string): Promise<OAuthTokens> {
    const stored = await this.opts.store.get(portalId);
    if (!stored) throw new NoTokenError(portalId);
    this.cache.set(portalId, stored);
    return stored;
  }

  /** Single flight per portal: concurrent callers share one refresh request. */
  private refreshOnce(portalId: string, replacing: string): Promise<OAuthTokens> {
    const running = this.inflight.get(portalId);
    if (running) return running;
    const p = this.doRefresh(portalId, replacing).finally(() => this.inflight.delete(portalId));
    this.inflight.set(portalId, p);
    return p;
  }

  private async doRefresh(portalId: string, replacing: string): Promise<OAuthTokens> {
    // Another process may already have refreshed: HubSpot refresh tokens do not rotate, so that is harmless, but
    // adopting its token saves a call.
    const stored = await this.load(portalId);
    if (stored.accessToken !== replacing && stored.expiresAt - this.now() > this.early) return stored;

    const attempts = this.opts.refreshAttempts ?? 3;
    const sleep = this.opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    let lastFailure = 'unknown';
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const requestedAt = this.now();
      try {
        const res = await this.oauthClient.oauth.tokensApi.create(
          'refresh_token',
          undefined,
          undefined,
          this.opts.clientId,
          this.opts.clientSecret,
          stored.refreshToken,
        );
        const tokens: OAuthTokens = {
          accessToken: res.accessToken,
          refreshToken: res.refreshToken || stored.refreshToken,
          // Counted from when we asked, so the lifetime is never overestimated.
          expiresAt: requestedAt + res.expiresIn * 1000,
        };
        await this.opts.store.set(portalId, tokens);
        this.cache.set(portalId, tokens);
        return tokens;
      } catch (err) {
        const f = classify(err);
        if (f.kind === 'request') {
          if (refreshRefused(err)) {
            this.cache.delete(portalId);
            await this.opts.onRefreshRefused?.(portalId);
          }
          throw new HubSpotRequestError({
            portalId,
            operation: 'oauth.refresh',
            status: f.status,
            category: f.category,
            correlationId: f.correlationId,
            detail: f.detail,
          });
        }
        if (f.kind === 'unknown') throw err;
        lastFailure = f.kind;
        if (attempt < attempts) await sleep(200 * 2 ** attempt);
      }
    }
    throw new HubSpotUnavailableError({ portalId, operation: 'oauth.refresh', attempts, lastFailure });
  }
}

/**
 * Carries the HTTP status of the current attempt out of the client, which loses it when a body will not parse,
 * and its headers (lower-case names), which the client drops: the rate limiter follows X-HubSpot-RateLimit-*.
 */
export const responseStatus = new AsyncLocalStorage<{ status?: number; headers?: Record<string, string> }>();

const statusRecorder = {
  pre: (ctx: unknown) => ctx,
  post: (ctx: unknown) => {
    const slot = responseStatus.getStore();
    const { httpStatusCode: status, headers } = ctx as { httpStatusCode?: unknown; headers?: unknown };
    if (slot && typeof status === 'number') slot.status = status;
    if (slot && typeof headers === 'object' && headers !== null)
      slot.headers = headers as Record<string, string>;
    return ctx;
  },
};

export type ClientFactoryOptions = {
  tokens: TokenProvider;
  /** e.g. the sandbox portal's URL; HubSpot's API host when omitted. */
  basePath?: string;
};

/**
 * Given an agent, the generated client sends its calls with node:http(s) on it instead of fetch (its Transport's
 * own switch). Per HubSpot call, fetch (undici: web streams, a cloned request, its own parser) took ~1 ms of the
 * service's CPU in the cost bench's profile, a sixth of a transition; node:http with kept-alive sockets does the
 * same exchange for a fraction of that. Status, headers (lower-case) and bodies reach the middleware alike, and
 * socket errors keep their codes (ECONNRESET...) for errors.ts. `apiRequest` (raw-request.ts) still uses fetch.
 */
function keepAliveAgent(basePath: string | undefined): HttpAgent {
  const options = { keepAlive: true };
  return basePath?.startsWith('http:') ? new HttpAgent(options) : new HttpsAgent(options);
}

export class HubSpotClientFactory {
  private readonly clients = new Map<string, { token: string; client: Client }>();
  private readonly agent: HttpAgent;

  constructor(private readonly opts: ClientFactoryOptions) {
    this.agent = keepAliveAgent(opts.basePath);
  }

  get tokens(): TokenProvider {
    return this.opts.tokens;
  }

  /** A client carrying the portal's current token (rebuilt when the token changes). */
  async forPortal(portalId: string): Promise<{ client: Client; token: string }> {
    const token = await this.opts.tokens.accessToken(portalId);
    const cached = this.clients.get(portalId);
    if (cached && cached.token === token) return cached;
    const client = new Client({
      accessToken: token,
      ...(this.opts.basePath ? { basePath: this.opts.basePath } : {}),
      middleware: [statusRecorder],
      httpAgent: this.agent,
    });
    const entry = { token, client };
    this.clients.set(portalId, entry);
    return entry;
  }
}
