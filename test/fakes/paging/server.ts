import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';

/**
 * Local stand-ins for the services Stagekeeper pages through, answering as each does (express on 127.0.0.1, port 0):
 *
 * - Slack incoming webhooks, POST /slack/services/:hook: 200 "ok"; a body without `text` or `blocks` is 400
 *   "invalid_payload" (Slack's plain-text error codes); an unknown hook is 404 "no_service"; a removed channel
 *   404 "channel_not_found"; rate limiting is 429 "rate_limited" with Retry-After in seconds.
 * - Teams incoming webhooks, POST /teams/:hook: 200 "1"; no summary/text/attachments is 400
 *   "Summary or Text is required."; 429 with Retry-After.
 * - PagerDuty Events API v2, POST /pagerduty/v2/enqueue: 202 {status:"success", message:"Event processed",
 *   dedup_key}; an invalid event (routing key, action, payload fields) is 400 {status:"invalid event", ...};
 *   429 when scripted. Keeps incidents by dedup key (trigger opens, resolve closes).
 * - A team's own tooling, POST /hook/:name: 200, recording headers and raw body for signature checks.
 *
 * Answers can be scripted per path (`script(path, ...answers)`), consumed in order before the default behaviour.
 */

export type Answer = { status: number; body?: string | object; headers?: Record<string, string> };
export type Received = {
  path: string;
  headers: Record<string, string>;
  raw: string;
  json: unknown;
  at: number;
};

export type PagingFake = {
  url: string;
  received: Received[];
  /** dedup_key -> 'triggered' | 'resolved' */
  incidents: Map<string, 'triggered' | 'resolved'>;
  /** Known Slack and Teams hook names; others answer as removed webhooks. */
  hooks: Set<string>;
  script(path: string, ...answers: Answer[]): void;
  requestsTo(prefix: string): Received[];
  close(): Promise<void>;
};

export async function startPagingFake(): Promise<PagingFake> {
  const app = express();
  const received: Received[] = [];
  const scripts = new Map<string, Answer[]>();
  const incidents = new Map<string, 'triggered' | 'resolved'>();
  const hooks = new Set<string>(['T000/B000/XXXX', 'ops']);

  app.use(express.text({ type: () => true, limit: '1mb' }));
  app.use((req, res, next) => {
    const raw = typeof req.body === 'string' ? req.body : '';
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      json = undefined;
    }
    received.push({
      path: req.path,
      headers: req.headers as Record<string, string>,
      raw,
      json,
      at: Date.now(),
    });
    const scripted = scripts.get(req.path)?.shift();
    if (!scripted) return next();
    for (const [k, v] of Object.entries(scripted.headers ?? {})) res.setHeader(k, v);
    res.status(scripted.status);
    return typeof scripted.body === 'object'
      ? res.json(scripted.body)
      : res.type('text/plain').send(scripted.body ?? '');
  });

  app.post(/^\/slack\/services\/(.+)$/, (req, res) => {
    const hook = req.path.slice('/slack/services/'.length);
    if (!hooks.has(hook)) return void res.status(404).type('text/plain').send('no_service');
    const body = received.at(-1)!.json as { text?: unknown; blocks?: unknown } | undefined;
    if (!body || (typeof body.text !== 'string' && !Array.isArray(body.blocks)))
      return void res.status(400).type('text/plain').send('invalid_payload');
    res.status(200).type('text/plain').send('ok');
  });

  app.post('/teams/:hook', (req, res) => {
    if (!hooks.has(String(req.params.hook)))
      return void res.status(404).type('text/plain').send('Webhook not found');
    const body = received.at(-1)!.json as
      { summary?: unknown; text?: unknown; attachments?: unknown } | undefined;
    if (
      !body ||
      (typeof body.summary !== 'string' && typeof body.text !== 'string' && !Array.isArray(body.attachments))
    )
      return void res.status(400).type('text/plain').send('Summary or Text is required.');
    res.status(200).type('text/plain').send('1');
  });

  app.post('/pagerduty/v2/enqueue', (_req, res) => {
    const e = received.at(-1)!.json as
      | {
          routing_key?: unknown;
          event_action?: unknown;
          dedup_key?: unknown;
          payload?: { summary?: unknown; source?: unknown; severity?: unknown };
        }
      | undefined;
    const errors: string[] = [];
    if (!e) errors.push('Event object is invalid');
    else {
      if (typeof e.routing_key !== 'string' || e.routing_key.length !== 32)
        errors.push("'routing_key' must be 32 characters");
      if (!['trigger', 'acknowledge', 'resolve'].includes(String(e.event_action)))
        errors.push("'event_action' is invalid");
      if (e.event_action === 'trigger') {
        if (typeof e.payload?.summary !== 'string' || e.payload.summary.length === 0)
          errors.push("'payload.summary' is missing or blank");
        if (typeof e.payload?.source !== 'string') errors.push("'payload.source' is missing or blank");
        if (!['critical', 'error', 'warning', 'info'].includes(String(e.payload?.severity)))
          errors.push("'payload.severity' is invalid");
      } else if (typeof e.dedup_key !== 'string')
        errors.push("'dedup_key' is required for acknowledge and resolve");
    }
    if (errors.length > 0)
      return void res
        .status(400)
        .json({ status: 'invalid event', message: 'Event object is invalid', errors });
    const dedup = typeof e!.dedup_key === 'string' ? e!.dedup_key : `pd-${received.length}`;
    if (e!.event_action === 'trigger') incidents.set(dedup, 'triggered');
    if (e!.event_action === 'resolve' && incidents.has(dedup)) incidents.set(dedup, 'resolved');
    res.status(202).json({ status: 'success', message: 'Event processed', dedup_key: dedup });
  });

  app.post('/hook/:name', (_req, res) => void res.status(200).json({ ok: true }));

  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    incidents,
    hooks,
    script(path, ...answers) {
      scripts.set(path, [...(scripts.get(path) ?? []), ...answers]);
    },
    requestsTo: (prefix) => received.filter((r) => r.path.startsWith(prefix)),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
