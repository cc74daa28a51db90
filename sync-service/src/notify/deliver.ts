import type { PageFacts, PageResolution } from '@stagekeeper/shared';
import { PAGERDUTY_EVENTS_URL, type ChannelConfig } from './channel-config';
import {
  pagerDutyDedupKey,
  pagerDutyResolve,
  pagerDutyTrigger,
  slackPayload,
  slackResolvedPayload,
  teamsPayload,
  teamsResolvedPayload,
  type ResolvedNote,
  webhookPagePayload,
  webhookResolvePayload,
} from './render';
import { signWebhook } from './sign';

/**
 * One HTTP delivery to one channel, and what its answer means. Answers are classified, never logged or stored
 * verbatim: a service may echo the payload back in an error.
 *
 * - Slack: 200 "ok"; 429 with Retry-After (seconds); 400 invalid_payload / 403 invalid_token, action_prohibited /
 *   404 channel_not_found, no_service / 410 channel_is_archived are the channel's fault and will not heal by retrying.
 * - Teams: 200 (connector, body "1") or 202 (Workflows); 429 with Retry-After; 4xx bad payload or a removed webhook.
 * - PagerDuty Events v2: 202 {status:"success", dedup_key}; 400 "invalid event"; 429 when the integration's
 *   rate is exceeded (back off); 5xx retry.
 * - Generic webhook: any 2xx; 408, 429 and 5xx retry; other 4xx do not.
 * - Any 3xx: never followed (it could carry the page somewhere nobody configured) and not retried: the URL is
 *   out of date or wrong, which only an admin can fix, so it fails at once with `redirect` and marks the channel.
 */

export type Delivered = { ok: true; dedupKey?: string };
export type DeliveryFailure = {
  ok: false;
  retryable: boolean;
  /** The service's code when it gives one (Slack's `channel_not_found`), else `http_<status>` / `network`. */
  code: string;
  retryAfterMs?: number;
};
export type DeliveryResult = Delivered | DeliveryFailure;

export type PageMessage =
  | { action: 'trigger'; portalId: string; key: string; link: string; facts: PageFacts }
  | {
      action: 'resolve';
      portalId: string;
      key: string;
      dealId: string;
      why: PageResolution;
      /** The page being resolved (from the trail): Slack and Teams get a follow-up naming it. */
      note?: { stage: string; level: number; link: string };
    };

export type DeliverOptions = {
  fetch?: typeof fetch;
  clock?: () => number;
  timeoutMs?: number;
};

/** A Retry-After of seconds or an HTTP date; capped so a hostile answer cannot park a page for days. */
export function retryAfterMs(header: string | null, nowMs: number): number | undefined {
  if (!header) return undefined;
  const cap = 15 * 60_000;
  if (/^\d+$/.test(header.trim())) return Math.min(cap, Number(header.trim()) * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.min(cap, Math.max(0, at - nowMs));
}

/** Slack answers errors as a bare code in text; keep it only if it looks like one. */
const codeOf = (text: string, status: number) => {
  const t = text.trim();
  return /^[a-z_]{3,60}$/.test(t) ? t : `http_${status}`;
};

function request(
  channel: ChannelConfig,
  msg: PageMessage,
  now: number,
): { url: string; body: string; headers: Record<string, string> } | null {
  const json = { 'content-type': 'application/json' };
  switch (channel.kind) {
    case 'slack':
    case 'teams': {
      // No incident to close: a resolve becomes a short follow-up message when the page it follows is known.
      const trigger = channel.kind === 'slack' ? slackPayload : teamsPayload;
      const resolved = channel.kind === 'slack' ? slackResolvedPayload : teamsResolvedPayload;
      if (msg.action === 'trigger')
        return { url: channel.webhookUrl, body: JSON.stringify(trigger(msg.facts, msg.link)), headers: json };
      if (!msg.note) return null;
      const note: ResolvedNote = {
        dealId: msg.dealId,
        stage: msg.note.stage,
        level: msg.note.level,
        why: msg.why,
      };
      return { url: channel.webhookUrl, body: JSON.stringify(resolved(note, msg.note.link)), headers: json };
    }
    case 'pagerduty': {
      const dedup = pagerDutyDedupKey(msg.portalId, msg.key);
      const event =
        msg.action === 'trigger'
          ? pagerDutyTrigger(msg.facts, msg.link, channel.routingKey, dedup)
          : pagerDutyResolve(channel.routingKey, dedup);
      return { url: channel.eventsUrl ?? PAGERDUTY_EVENTS_URL, body: JSON.stringify(event), headers: json };
    }
    case 'webhook': {
      const payload =
        msg.action === 'trigger'
          ? webhookPagePayload(msg.facts, msg.link, msg.key, msg.portalId)
          : webhookResolvePayload(msg.key, msg.portalId, msg.dealId, msg.why);
      const body = JSON.stringify(payload);
      return { url: channel.url, body, headers: { ...json, ...signWebhook(channel.secret, body, now) } };
    }
  }
}

/** Sends one page or resolve; `null` request means the channel has nothing to do for this message. */
export async function deliver(
  channel: ChannelConfig,
  msg: PageMessage,
  opts: DeliverOptions = {},
): Promise<DeliveryResult> {
  const now = (opts.clock ?? Date.now)();
  const req = request(channel, msg, now);
  if (!req) return { ok: true };
  let res: Response;
  try {
    res = await (opts.fetch ?? fetch)(req.url, {
      method: 'POST',
      headers: req.headers,
      body: req.body,
      // Not followed; 'manual' hands back the 3xx itself, so it is told apart from a network failure.
      redirect: 'manual',
      signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
    });
  } catch {
    return { ok: false, retryable: true, code: 'network' };
  }
  const text = await res.text().catch(() => '');
  const status = res.status;
  const wait = retryAfterMs(res.headers.get('retry-after'), now);
  if (status >= 300 && status < 400) return { ok: false, retryable: false, code: 'redirect' };
  if (status >= 200 && status < 300) {
    if (channel.kind === 'pagerduty') {
      const body = safeJson(text) as { dedup_key?: unknown } | undefined;
      return { ok: true, ...(typeof body?.dedup_key === 'string' ? { dedupKey: body.dedup_key } : {}) };
    }
    return { ok: true };
  }
  if (status === 429)
    return {
      ok: false,
      retryable: true,
      code: 'rate_limited',
      ...(wait !== undefined ? { retryAfterMs: wait } : {}),
    };
  if (status >= 500 || status === 408)
    return {
      ok: false,
      retryable: true,
      code: `http_${status}`,
      ...(wait !== undefined ? { retryAfterMs: wait } : {}),
    };
  if (channel.kind === 'pagerduty') {
    const body = safeJson(text) as { status?: unknown } | undefined;
    return {
      ok: false,
      retryable: false,
      code: body?.status === 'invalid event' ? 'invalid_event' : `http_${status}`,
    };
  }
  return {
    ok: false,
    retryable: false,
    code: channel.kind === 'slack' ? codeOf(text, status) : `http_${status}`,
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
