import { http, HttpResponse, type HttpHandler } from 'msw';
import type { SandboxPortal } from './portal';

/**
 * msw handlers backed by the same router as the HTTP server. By default they answer for HubSpot's real
 * hosts, so a client built without `basePath` is served too.
 */
export function sandboxHandlers(
  portal: SandboxPortal,
  origins: string[] = ['https://api.hubapi.com', 'https://api.hubspot.com'],
): HttpHandler[] {
  return origins.map((origin) =>
    http.all(`${origin}/*`, async ({ request }) => {
      const url = new URL(request.url);
      const headers: Record<string, string | undefined> = {};
      request.headers.forEach((v, k) => (headers[k.toLowerCase()] = v));
      const out = await portal.handle({
        method: request.method,
        url: url.pathname + url.search,
        headers,
        body: await request.text(),
      });
      return new HttpResponse(out.status === 204 ? null : out.body, {
        status: out.status,
        headers: out.headers,
      });
    }),
  );
}
