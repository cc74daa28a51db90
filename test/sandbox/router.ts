import { randomUUID } from 'node:crypto';
import { OAuthError, type Principal } from './auth';
import { dailyBody, HubSpotError, secondlyBody, tenSecondlyBody, validationError } from './errors';
import type { SandboxPortal } from './portal';
import { ASSOCIATION_ROUTES } from './routes/associations';
import { OAUTH_ROUTES } from './routes/oauth';
import { OBJECT_ROUTES } from './routes/objects';
import { SCHEMA_ROUTES } from './routes/schema';

export type SandboxRequest = {
  method: string;
  url: string;
  headers: Record<string, string | undefined>;
  body: string;
};
export type SandboxResponse = { status: number; headers: Record<string, string>; body: string };

export type RouteContext = {
  portal: SandboxPortal;
  params: Record<string, string>;
  query: URLSearchParams;
  /** Parsed JSON body (undefined when there is none). */
  body: unknown;
  req: SandboxRequest;
  principal?: Principal;
};
export type RouteResult = { status: number; body?: unknown; headers?: Record<string, string> };
export type Route = {
  method: string;
  pattern: string;
  handler: (ctx: RouteContext) => RouteResult | Promise<RouteResult>;
  /** 'search' uses the per-account 5/s bucket and sends no rate-limit headers; 'public' needs no bearer. */
  kind?: 'api' | 'search' | 'public';
  /** Writes are the ones a lost response (504) can hide. */
  write?: boolean;
};

const ROUTES: Route[] = [...OAUTH_ROUTES, ...OBJECT_ROUTES, ...SCHEMA_ROUTES, ...ASSOCIATION_ROUTES];

function match(pattern: string, path: string): Record<string, string> | undefined {
  const p = pattern.split('/');
  const s = path.split('/');
  if (p.length !== s.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    if (p[i]!.startsWith(':')) params[p[i]!.slice(1)] = decodeURIComponent(s[i]!);
    else if (p[i] !== s[i]) return undefined;
  }
  return params;
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}): SandboxResponse => ({
  status,
  headers: status === 204 ? headers : { 'Content-Type': 'application/json;charset=utf-8', ...headers },
  body: status === 204 || body === undefined ? '' : JSON.stringify(body),
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The 5xx bodies HubSpot's edge sends; JSON so the client's retry decorator sees the status code. */
function serverError(status: number): Record<string, unknown> {
  const message =
    status === 500
      ? 'internal error'
      : status === 502
        ? 'Bad Gateway'
        : status === 503
          ? 'Service Unavailable'
          : 'Gateway Timeout';
  return {
    status: 'error',
    message,
    correlationId: randomUUID(),
    category: status === 500 ? 'INTERNAL_ERROR' : 'SERVICE_UNAVAILABLE',
  };
}

function parseBody(req: SandboxRequest): unknown {
  if (!req.body) return undefined;
  const type = (req.headers['content-type'] ?? '').toLowerCase();
  if (type.includes('application/x-www-form-urlencoded')) return new URLSearchParams(req.body);
  try {
    return JSON.parse(req.body);
  } catch (e) {
    throw validationError(`Invalid input JSON on line 1: ${(e as Error).message}`);
  }
}

/** Auth, limits and faults in HubSpot's order (auth → rate limit → handler), then the route itself. */
export async function route(portal: SandboxPortal, req: SandboxRequest): Promise<SandboxResponse> {
  const url = new URL(req.url, 'http://sandbox');
  const path = url.pathname.replace(/\/+$/, '') || '/';
  let found: { route: Route; params: Record<string, string> } | undefined;
  for (const r of ROUTES) {
    if (r.method !== req.method.toUpperCase()) continue;
    const params = match(r.pattern, path);
    if (params) {
      found = { route: r, params };
      break;
    }
  }
  if (portal.faults.latencyMs > 0) await sleep(portal.faults.latencyMs);
  if (!found)
    return json(
      404,
      new HubSpotError(404, 'OBJECT_NOT_FOUND', `Sandbox has no route for ${req.method} ${path}`).body(),
    );
  const { route: r, params } = found;
  const kind = r.kind ?? 'api';
  const headers: Record<string, string> = {};
  try {
    let principal: Principal | undefined;
    if (kind !== 'public') {
      principal = portal.tokens.authenticate(req.headers.authorization);
      if (kind === 'search') {
        if (!portal.limits.takeSearch().ok) return json(429, secondlyBody());
      } else {
        const burst = portal.limits.takeBurst(principal);
        if (!burst.ok) return json(429, tenSecondlyBody(portal.appId, portal.portalId));
        const daily = portal.limits.takeDaily();
        if (!daily.ok) return json(429, dailyBody());
        const window = portal.limits.burstFor(principal);
        headers['X-HubSpot-RateLimit-Max'] = String(window.max);
        headers['X-HubSpot-RateLimit-Remaining'] = String(burst.remaining);
        headers['X-HubSpot-RateLimit-Interval-Milliseconds'] = String(window.windowMs);
        // Daily headers are not sent on OAuth-authorised calls (facts §1).
        if (principal.kind === 'private' && Number.isFinite(portal.limits.daily)) {
          headers['X-HubSpot-RateLimit-Daily'] = String(portal.limits.daily);
          headers['X-HubSpot-RateLimit-Daily-Remaining'] = String(daily.remaining);
        }
      }
      if (portal.faults.http5xxRate > 0 && portal.random() < portal.faults.http5xxRate) {
        const status = [500, 502, 503][Math.floor(portal.random() * 3)]!;
        return json(status, serverError(status));
      }
    }
    const result = await r.handler({
      portal,
      params,
      query: url.searchParams,
      body: parseBody(req),
      req,
      principal,
    });
    if (
      r.write &&
      result.status < 300 &&
      portal.faults.lostResponseRate > 0 &&
      portal.random() < portal.faults.lostResponseRate
    )
      return json(504, serverError(504));
    return json(result.status, result.body, { ...headers, ...result.headers });
  } catch (e) {
    if (e instanceof HubSpotError) return json(e.status, e.body(), headers);
    if (e instanceof OAuthError) return json(e.httpStatus, e.body());
    // A sandbox bug, not a HubSpot behaviour: make it loud in the test output.
    console.error('[sandbox] unhandled error for', req.method, req.url, e);
    return json(500, { ...serverError(500), message: `sandbox bug: ${(e as Error).message}` });
  }
}
