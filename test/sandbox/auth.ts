import { randomBytes, randomUUID } from 'node:crypto';
import { HubSpotError } from './errors';

export type Principal = { token: string; kind: 'private' | 'oauth' };

const AUTH_MISSING =
  'Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview';

/** OAuth failures come back as 400 with a `status` code word rather than the CRM error shape (facts §10). */
export class OAuthError extends Error {
  constructor(
    readonly statusWord: string,
    message: string,
    readonly httpStatus = 400,
  ) {
    super(message);
  }
  body(): Record<string, unknown> {
    return { status: this.statusWord, message: this.message, correlationId: randomUUID() };
  }
}

type Issued = { expiresAt: number; refreshToken: string; scopes: string[] };

/**
 * Bearer tokens: static private-app tokens never expire; OAuth access tokens expire after `expiresIn` seconds
 * of the portal clock, which is how tests reach EXPIRED_AUTHENTICATION without waiting 30 minutes.
 */
export class TokenStore {
  readonly staticTokens = new Set<string>();
  private readonly access = new Map<string, Issued>();
  private readonly refresh = new Map<string, { scopes: string[] }>();
  private readonly codes = new Map<string, { redirectUri: string; scopes: string[] }>();
  expiresIn = 1800;

  constructor(
    private readonly now: () => number,
    private readonly client: { clientId: string; clientSecret: string },
  ) {}

  authenticate(header: string | undefined): Principal {
    const m = /^Bearer\s+(\S+)$/i.exec(header ?? '');
    if (!m) throw new HubSpotError(401, 'INVALID_AUTHENTICATION', AUTH_MISSING);
    const token = m[1]!;
    if (this.staticTokens.has(token)) return { token, kind: 'private' };
    const issued = this.access.get(token);
    if (!issued) throw new HubSpotError(401, 'INVALID_AUTHENTICATION', AUTH_MISSING);
    const ago = this.now() - issued.expiresAt;
    if (ago >= 0)
      throw new HubSpotError(
        401,
        'EXPIRED_AUTHENTICATION',
        `The OAuth token used to make this call expired ${Math.max(1, Math.round(ago / 60_000))} minute(s) ago.`,
      );
    return { token, kind: 'oauth' };
  }

  /** What the install flow's redirect would carry: a one-time code for `redirectUri`. */
  issueCode(
    redirectUri: string,
    scopes: string[] = ['oauth', 'crm.objects.deals.read', 'crm.objects.deals.write'],
  ): string {
    const code = randomUUID();
    this.codes.set(code, { redirectUri, scopes });
    return code;
  }

  private issue(scopes: string[], refreshToken?: string): Record<string, unknown> {
    // HubSpot tokens are opaque and up to 300 characters; use a realistic regional prefix and length.
    const accessToken = `CN${randomBytes(96).toString('base64url')}`;
    const rt = refreshToken ?? `na1-${randomUUID()}`;
    this.refresh.set(rt, { scopes });
    this.access.set(accessToken, { expiresAt: this.now() + this.expiresIn * 1000, refreshToken: rt, scopes });
    return { token_type: 'bearer', access_token: accessToken, refresh_token: rt, expires_in: this.expiresIn };
  }

  exchange(form: URLSearchParams): Record<string, unknown> {
    const grant = form.get('grant_type');
    if (form.get('client_id') !== this.client.clientId)
      throw new OAuthError('BAD_CLIENT_ID', 'missing or unknown client id');
    if (form.get('client_secret') !== this.client.clientSecret)
      throw new OAuthError('BAD_CLIENT_SECRET', 'missing or invalid client secret');
    if (grant === 'authorization_code') {
      const c = this.codes.get(form.get('code') ?? '');
      if (!c) throw new OAuthError('BAD_AUTH_CODE', 'missing or unknown auth code');
      if (form.get('redirect_uri') !== c.redirectUri)
        throw new OAuthError('BAD_REDIRECT_URI', 'redirect_uri does not match the one used for the code');
      this.codes.delete(form.get('code')!);
      return this.issue(c.scopes);
    }
    if (grant === 'refresh_token') {
      const rt = form.get('refresh_token') ?? '';
      const r = this.refresh.get(rt);
      if (!r) throw new OAuthError('BAD_REFRESH_TOKEN', 'missing or invalid refresh token');
      return this.issue(r.scopes, rt);
    }
    throw new OAuthError('BAD_GRANT_TYPE', `unsupported grant_type: ${grant ?? '(missing)'}`);
  }

  revokeRefreshToken(rt: string): void {
    this.refresh.delete(rt);
    for (const [t, i] of this.access) if (i.refreshToken === rt) this.access.delete(t);
  }

  info(token: string): (Issued & { token: string }) | undefined {
    const i = this.access.get(token);
    return i && { ...i, token };
  }
}

export type RateLimitConfig = { max: number; windowMs: number };

/** Rolling-window counters keyed by token (burst) or account (search, daily). */
export class RateLimiter {
  /** Private apps: per token (the app), Professional/Enterprise by default. */
  burst: RateLimitConfig = { max: 190, windowMs: 10_000 };
  /** OAuth (public) apps: 110 per 10 s per installing account, whichever of its tokens is used (facts §1). */
  oauthBurst: RateLimitConfig = { max: 110, windowMs: 10_000 };
  search: RateLimitConfig = { max: 5, windowMs: 1_000 };
  daily = Infinity;
  private readonly hits = new Map<string, number[]>();
  private dailyUsed = 0;

  constructor(private readonly now: () => number) {}

  private take(key: string, cfg: RateLimitConfig): { ok: boolean; remaining: number } {
    const now = this.now();
    const list = (this.hits.get(key) ?? []).filter((t) => t > now - cfg.windowMs);
    this.hits.set(key, list);
    if (list.length >= cfg.max) return { ok: false, remaining: 0 };
    list.push(now);
    return { ok: true, remaining: cfg.max - list.length };
  }

  /** The burst window a principal draws on, with the limit it reports in X-HubSpot-RateLimit-Max. */
  burstFor(principal: Principal): RateLimitConfig {
    return principal.kind === 'oauth' ? this.oauthBurst : this.burst;
  }

  takeBurst(principal: Principal) {
    return this.take(
      principal.kind === 'oauth' ? 'burst:oauth-app' : `burst:${principal.token}`,
      this.burstFor(principal),
    );
  }

  takeSearch() {
    return this.take('search', this.search);
  }

  takeDaily(): { ok: boolean; remaining: number } {
    if (this.dailyUsed >= this.daily) return { ok: false, remaining: 0 };
    this.dailyUsed++;
    return { ok: true, remaining: this.daily - this.dailyUsed };
  }

  reset(): void {
    this.hits.clear();
    this.dailyUsed = 0;
  }
}
