import { OAuthError } from '../auth';
import type { Route } from '../router';

export const OAUTH_ROUTES: Route[] = [
  {
    method: 'POST',
    pattern: '/oauth/v1/token',
    kind: 'public',
    handler: (ctx) => {
      // The v1 endpoint takes a form body only; JSON is refused like HubSpot refuses it.
      if (!(ctx.body instanceof URLSearchParams))
        throw new OAuthError('BAD_REQUEST', 'body must be application/x-www-form-urlencoded');
      return { status: 200, body: ctx.portal.tokens.exchange(ctx.body) };
    },
  },
  {
    method: 'GET',
    pattern: '/oauth/v1/access-tokens/:token',
    kind: 'public',
    handler: (ctx) => {
      const info = ctx.portal.tokens.info(ctx.params.token!);
      if (!info) throw new OAuthError('NOT_FOUND', 'access token not found', 404);
      const owner = ctx.portal.owners.first();
      return {
        status: 200,
        body: {
          token: info.token,
          user: owner?.email,
          hub_domain: `sandbox-${ctx.portal.portalId}.hubspot.test`,
          scopes: info.scopes,
          hub_id: ctx.portal.portalId,
          app_id: ctx.portal.appId,
          expires_in: Math.max(0, Math.floor((info.expiresAt - ctx.portal.now()) / 1000)),
          user_id: owner?.userId,
          token_type: 'access',
        },
      };
    },
  },
  {
    method: 'DELETE',
    pattern: '/oauth/v1/refresh-tokens/:token',
    kind: 'public',
    handler: (ctx) => {
      ctx.portal.tokens.revokeRefreshToken(ctx.params.token!);
      return { status: 204 };
    },
  },
];
