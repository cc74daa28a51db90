import { createHash, timingSafeEqual } from 'node:crypto';
import express, {
  type ErrorRequestHandler,
  type Request,
  type RequestHandler,
  type Response,
  type Router,
} from 'express';
import type { Logger } from '../log';
import { registry, webhookEvents, webhookRequests } from '../metrics';
import type { Handoff, IngestJobData } from '../queue/ingest';
import type { ReasonEdit } from '../reasons/hubspot-edit';
import {
  checkSignatureHeaders,
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  verifySignatureV3,
  type SignatureFailure,
} from '../webhooks/signature';
import type { ReplayClaim, ReplayStore } from './replay-store';
import { parseWebhookBatch, routeEvent, UNRECOGNISED_REASONS } from '../webhooks/events';
import { withTimeout } from '../with-timeout';

export type AppDeps = {
  /** App client secret for v3 signatures. */
  clientSecret: string;
  /** Public origin (plus stripped path prefix) HubSpot calls; see config PUBLIC_URL. */
  publicUrl?: string;
  maxBodyBytes: number;
  /**
   * Stores one accepted request durably (the ingest queue), with its signature's replay claim when given one
   * (taken in the same round trip where it can: queue/ingest.ts): 'replayed', and nothing stored, when the claim
   * was taken before. Rejects when it cannot, and the webhook is then 503'd.
   */
  enqueue: (request: IngestJobData, claim?: ReplayClaim) => Promise<Handoff | void>;
  /** Redis ping + queue reachability; throws or rejects when not ready. */
  readiness: () => Promise<void>;
  log: Logger;
  clock?: () => number;
  /**
   * Extension point for the routes other parts of the service add (card API, settings, scorecard, OAuth):
   * each is mounted as given, after the built-in routes, and behind the same JSON error handling.
   */
  routers?: { path: string; router: Router | RequestHandler }[];
  /** Signed webhook requests already accepted; a replay within the signature window is answered without effect. */
  replay?: Pick<ReplayStore, 'claimOf' | 'release'>;
  /** config METRICS_TOKEN: /metrics needs `Authorization: Bearer <token>`; without one it is not served. */
  metricsToken?: string;
  /** What /metrics serves (Prometheus text): the process registry's by default. */
  metrics?: () => Promise<string>;
  /** Only /healthz, /readyz and /metrics (a worker-role process: its SLA and HubSpot counters live in it). */
  operationsOnly?: boolean;
};

const READINESS_TIMEOUT_MS = 2_000;

/** The URL HubSpot signed: behind a proxy the service sees its own host, not the public one. */
export function signedUri(req: Request, publicUrl: string | undefined): string {
  if (publicUrl) return `${publicUrl}${req.originalUrl}`;
  return `${req.protocol}://${req.get('host') ?? ''}${req.originalUrl}`;
}

export function createApp(deps: AppDeps) {
  const app = express();
  app.disable('x-powered-by');
  const clock = deps.clock ?? Date.now;

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.get('/readyz', async (_req, res) => {
    try {
      await withTimeout(
        deps.readiness(),
        READINESS_TIMEOUT_MS,
        () => new Error(`timed out after ${READINESS_TIMEOUT_MS} ms`),
      );
      res.json({ status: 'ready' });
    } catch (err) {
      deps.log.warn(
        { err: err instanceof Error ? { name: err.name, message: err.message } : undefined },
        'not ready',
      );
      res.status(503).json({ status: 'unavailable' });
    }
  });

  // Operational detail (queue depths, error rates) is not for the internet: only with the token.
  if (deps.metricsToken) {
    const expected = digest(deps.metricsToken);
    app.get('/metrics', async (req, res) => {
      const given = /^Bearer (.+)$/.exec(req.get('authorization') ?? '')?.[1];
      if (!given || !timingSafeEqual(digest(given), expected)) {
        res.set('WWW-Authenticate', 'Bearer').status(401).json({ error: 'metrics need the bearer token' });
        return;
      }
      res.set('Content-Type', registry.contentType);
      res.send(await (deps.metrics ?? (() => registry.metrics()))());
    });
  }

  // A worker-role process answers only for its health and metrics: nothing routes HubSpot's traffic to it.
  if (!deps.operationsOnly) {
    app.post(
      '/webhooks/hubspot',
      // Headers first: a request that cannot be signed by HubSpot is refused before any of its body is read.
      signatureHeadersFirst(clock, (res, reason) => {
        webhookEvents.inc({ outcome: 'rejected_signature' });
        webhookRequests.inc({ status: '401' });
        deps.log.warn({ reason }, 'webhook signature headers rejected');
        res.status(401).json({ error: 'invalid signature', reason });
      }),
      // Raw bytes whatever the content type: the signature covers exactly what was sent.
      express.raw({ type: () => true, limit: deps.maxBodyBytes }),
      async (req, res) => {
        const rawBody: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        const reply = (status: number, body: unknown) => {
          webhookRequests.inc({ status: String(status) });
          res.status(status).json(body);
        };

        const verdict = verifySignatureV3(
          deps.clientSecret,
          {
            method: req.method,
            uri: signedUri(req, deps.publicUrl),
            rawBody,
            signature: req.get(SIGNATURE_HEADER),
            timestamp: req.get(TIMESTAMP_HEADER),
          },
          clock(),
        );
        if (!verdict.ok) {
          webhookEvents.inc({ outcome: 'rejected_signature' });
          deps.log.warn({ reason: verdict.reason, bytes: rawBody.length }, 'webhook signature rejected');
          return reply(401, { error: 'invalid signature', reason: verdict.reason });
        }

        let body: unknown;
        try {
          body = JSON.parse(rawBody.toString('utf8'));
        } catch {
          return reply(400, {
            error: 'malformed JSON',
            issues: [{ path: [], message: 'body is not valid JSON' }],
          });
        }
        const parsed = parseWebhookBatch(body);
        if (!parsed.ok) return reply(400, { error: 'invalid webhook payload', issues: parsed.issues });

        const byPortal = new Map<string, Set<string>>();
        const reasonEdits: ReasonEdit[] = [];
        const ignored: Record<string, number> = {};
        // Events this service did not understand: counted and logged at warn (types only, never values).
        const unrecognised = new Map<string, number>();
        let routed = 0;
        for (const event of parsed.events) {
          const route = routeEvent(event);
          if (route.kind === 'ignored') {
            ignored[route.reason] = (ignored[route.reason] ?? 0) + 1;
            const strange = UNRECOGNISED_REASONS.has(route.reason);
            webhookEvents.inc({
              outcome: route.reason === 'own_write' ? 'own_write' : strange ? 'unrecognised' : 'ignored',
            });
            if (strange)
              unrecognised.set(
                `${event.subscriptionType}: ${route.reason}`,
                (unrecognised.get(`${event.subscriptionType}: ${route.reason}`) ?? 0) + 1,
              );
            continue;
          }
          if (route.kind === 'reasonEdit') {
            routed++;
            reasonEdits.push(route.edit);
            continue;
          }
          if (route.incomplete) {
            webhookEvents.inc({ outcome: 'incomplete' });
            unrecognised.set(
              `${event.subscriptionType}: ${route.incomplete}`,
              (unrecognised.get(`${event.subscriptionType}: ${route.incomplete}`) ?? 0) + 1,
            );
          }
          routed++;
          const set = byPortal.get(route.portalId) ?? new Set<string>();
          for (const id of route.dealIds) set.add(id);
          byPortal.set(route.portalId, set);
        }

        const portals = [...byPortal].map(([portalId, dealIds]) => ({ portalId, dealIds: [...dealIds] }));
        const accepted = portals.reduce((n, p) => n + p.dealIds.length, 0);
        if (portals.length > 0 || reasonEdits.length > 0) {
          // The same signed request again within the window was accepted once, so it is acknowledged, not re-run:
          // its signature is claimed with the hand-off (a request that names no work needs no claim).
          const signature = req.get(SIGNATURE_HEADER)!;
          const claim = deps.replay?.claimOf(signature);
          // Anything but a 2xx gives the claim back, so HubSpot's retry of this very request is taken.
          let replayed = false;
          if (claim)
            res.on('finish', () => {
              if (res.statusCode >= 300 && !replayed)
                void deps.replay?.release(signature).catch(() => undefined);
            });
          try {
            replayed =
              (await deps.enqueue({ portals, ...(reasonEdits.length ? { reasonEdits } : {}) }, claim)) ===
              'replayed';
          } catch (err) {
            // Redis is down: a 503 makes HubSpot redeliver later instead of us dropping the changes.
            deps.log.error(
              { err: err instanceof Error ? { name: err.name, message: err.message } : undefined },
              'webhook enqueue failed',
            );
            return reply(503, { error: 'temporarily unable to accept events' });
          }
          if (replayed) {
            webhookEvents.inc({ outcome: 'replayed' });
            deps.log.warn({ bytes: rawBody.length }, 'signed webhook request seen before; ignored');
            return reply(200, { accepted: 0, replayed: true });
          }
        }
        webhookEvents.inc({ outcome: 'accepted' }, routed);
        if (parsed.issues.length > 0)
          webhookEvents.inc({ outcome: 'invalid' }, new Set(parsed.issues.map((i) => i.path[0])).size);

        const summary = {
          events: parsed.events.length,
          portals: [...byPortal.keys()],
          deals: accepted,
          ...(reasonEdits.length ? { reasonEdits: reasonEdits.length } : {}),
          ignored,
          invalid: parsed.issues.length,
        };
        if (Object.keys(ignored).length > 0) deps.log.debug({ ignored }, 'webhook events ignored');
        if (unrecognised.size > 0)
          deps.log.warn(
            { unrecognised: Object.fromEntries([...unrecognised].slice(0, 10)) },
            'webhook events not fully understood',
          );
        deps.log.info(summary, 'webhook accepted');

        // The valid events are already queued; the 400 reports the broken ones without losing the rest.
        // Coalescing per deal happens later, in the ingest worker, so the count is of deals accepted, not runs created.
        if (parsed.issues.length > 0)
          return reply(400, { error: 'invalid webhook events', issues: parsed.issues, accepted });
        return reply(200, { accepted });
      },
    );

    for (const { path, router } of deps.routers ?? []) app.use(path, router);
  }

  app.use((_req, res) => {
    res.status(404).json({ error: 'not found' });
  });

  const onError: ErrorRequestHandler = (err, req, res, _next) => {
    const status =
      typeof err?.status === 'number' && err.status >= 400 && err.status < 600 ? err.status : 500;
    if (req.path === '/webhooks/hubspot') webhookRequests.inc({ status: String(status) });
    if (err?.type === 'entity.too.large') {
      deps.log.warn({ path: req.path, limit: deps.maxBodyBytes }, 'request body too large');
      res.status(413).json({ error: 'payload too large', limitBytes: deps.maxBodyBytes });
      return;
    }
    if (status >= 500)
      deps.log.error({ path: req.path, err: { name: err?.name, message: err?.message } }, 'request failed');
    res
      .status(status)
      .json({ error: status >= 500 ? 'internal error' : String(err?.message ?? 'bad request') });
  };
  app.use(onError);

  return app;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * Checks what the signature headers alone can tell (present, well-formed, timestamp inside the window) before
 * the body is read, and closes the connection on a refusal so an unsigned 1 MB upload is not drained.
 */
export function signatureHeadersFirst(
  clock: () => number,
  refuse: (res: Response, reason: SignatureFailure) => void,
): RequestHandler {
  return (req, res, next) => {
    const verdict = checkSignatureHeaders(req.get(SIGNATURE_HEADER), req.get(TIMESTAMP_HEADER), clock());
    if (verdict.ok) return next();
    res.set('Connection', 'close');
    refuse(res, verdict.reason);
  };
}
