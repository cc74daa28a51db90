import { UnrecoverableError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import type { Logger } from '../log';
import { pages as pageMetric } from '../metrics';
import type { ChannelStore } from './channel-store';
import { pickChannel } from './channel-store';
import { deliver, type DeliverOptions } from './deliver';
import { PAGE_ATTEMPTS, PAGE_QUEUE, PageJobData, type PageQueue } from './page-queue';
import type { PageRecord, PageTrail } from './page-trail';
import { dealLink } from './render';

/** A retryable answer; carries the service's Retry-After so the back-off honours it. */
export class RetryPageLater extends Error {
  override readonly name = 'RetryPageLater';
  constructor(
    readonly code: string,
    readonly retryAfterMs: number | undefined,
  ) {
    super(`page delivery will be retried (${code})`);
  }
}

/** Exponential from `baseMs`, capped at 10 minutes; a service's Retry-After wins when it asks for longer. */
export function pageBackoff(baseMs: number) {
  return (attemptsMade: number, _type?: string, err?: Error): number => {
    const exp = Math.min(10 * 60_000, baseMs * 2 ** Math.max(0, attemptsMade - 1));
    const asked = err instanceof RetryPageLater ? err.retryAfterMs : undefined;
    return asked !== undefined ? Math.max(asked, baseMs) : exp;
  };
}

export type PageProcessorDeps = {
  channels: Pick<ChannelStore, 'get' | 'recordSuccess' | 'recordFailure'>;
  trail: PageTrail;
  queue: Pick<PageQueue, 'dropHeld'>;
  /** Whether the stage entry is still the deal's current one (a page of a visit that ended is not sent). */
  isCurrentEntry?: (portalId: string, dealId: string, entryId: string) => Promise<boolean>;
  log: Logger;
  clock?: () => number;
  fetch?: DeliverOptions['fetch'];
  /** HubSpot's app origin for deal links (HUBSPOT_APP_ORIGIN; app-eu1.hubspot.com for EU accounts). */
  appOrigin?: string;
};

/**
 * What a page job does. Triggers: skip if the trail says it went out already, pick the channel (the level's, else
 * the portal's default; none: the HubSpot task stands alone), send, record. Resolves: close a PagerDuty incident,
 * tell a webhook, drop a page still held, and record. Nothing here touches HubSpot: the escalation's task was
 * created by the decision itself, so a failing channel loses nothing.
 */
export function createPageProcessor(deps: PageProcessorDeps) {
  const clock = deps.clock ?? Date.now;

  async function record(
    portalId: string,
    dealId: string,
    rec: PageRecord,
    patch: Partial<PageRecord>,
  ): Promise<PageRecord> {
    const next = { ...rec, ...patch, updatedAt: clock() };
    await deps.trail.put(portalId, dealId, next);
    return next;
  }

  async function trigger(
    job: Job<PageJobData>,
    portalId: string,
    dealId: string,
    cmd: Extract<PageJobData['c'], { type: 'page' }>,
  ) {
    const rec = await deps.trail.get(portalId, dealId, cmd.key);
    if (!rec || (rec.status !== 'held' && rec.status !== 'queued')) {
      pageMetric.inc({ channel: 'none', outcome: 'deduplicated' });
      return 'deduplicated';
    }
    if (deps.isCurrentEntry && !(await deps.isCurrentEntry(portalId, dealId, cmd.entryId))) {
      await record(portalId, dealId, rec, {
        status: 'resolved',
        before: rec.status,
        resolvedAt: clock(),
        resolvedWhy: 'stage_left',
      });
      pageMetric.inc({ channel: 'none', outcome: 'stale' });
      return 'stale';
    }
    const picked = pickChannel(await deps.channels.get(portalId), cmd.channel);
    if (!picked) {
      await record(portalId, dealId, rec, { status: 'no_channel' });
      pageMetric.inc({ channel: 'none', outcome: 'no_channel' });
      return 'no_channel';
    }
    if ('missing' in picked) {
      await record(portalId, dealId, rec, {
        status: 'failed',
        channel: picked.missing,
        error: 'channel_not_configured',
      });
      pageMetric.inc({ channel: 'none', outcome: 'failed' });
      deps.log.warn(
        { portalId, dealId, channel: picked.missing },
        'page names a channel the portal has not configured; the HubSpot task stands',
      );
      return 'failed';
    }
    const attempts = job.attemptsMade + 1;
    const result = await deliver(
      picked.config,
      {
        action: 'trigger',
        portalId,
        key: cmd.key,
        link: dealLink(portalId, dealId, deps.appOrigin),
        facts: cmd.facts,
      },
      { ...(deps.fetch ? { fetch: deps.fetch } : {}), clock },
    );
    const base = { channel: picked.id, kind: picked.kind, attempts };
    if (result.ok) {
      await record(portalId, dealId, rec, {
        ...base,
        status: 'sent',
        sentAt: clock(),
        error: null,
        dedupKey: result.dedupKey ?? null,
      });
      await deps.channels.recordSuccess(portalId, picked.id);
      pageMetric.inc({ channel: picked.kind, outcome: 'sent' });
      deps.log.info(
        { portalId, dealId, channel: picked.id, kind: picked.kind, level: cmd.facts.level, attempts },
        'page sent',
      );
      return 'sent';
    }
    const last = attempts >= (job.opts.attempts ?? PAGE_ATTEMPTS);
    const givingUp = !result.retryable || last;
    // Being rate limited is the service working as documented, not the channel failing, until a page is lost to it.
    const health =
      result.code === 'rate_limited' && !givingUp
        ? undefined
        : await deps.channels.recordFailure(portalId, picked.id, result.code, givingUp);
    if (result.retryable && !last) {
      await record(portalId, dealId, rec, { ...base, error: result.code });
      pageMetric.inc({ channel: picked.kind, outcome: 'retried' });
      deps.log.warn(
        {
          portalId,
          dealId,
          channel: picked.id,
          code: result.code,
          attempts,
          retryAfterMs: result.retryAfterMs,
        },
        'page not delivered; will retry',
      );
      throw new RetryPageLater(result.code, result.retryAfterMs);
    }
    await record(portalId, dealId, rec, { ...base, status: 'failed', error: result.code });
    pageMetric.inc({ channel: picked.kind, outcome: 'failed' });
    deps.log.error(
      { portalId, dealId, channel: picked.id, code: result.code, attempts, channelState: health?.state },
      'page failed; the HubSpot task stands and the channel is reported on the settings page',
    );
    throw new UnrecoverableError(`page failed on channel ${picked.id} (${result.code})`);
  }

  async function resolve(
    job: Job<PageJobData>,
    portalId: string,
    dealId: string,
    cmd: Extract<PageJobData['c'], { type: 'resolvePage' }>,
  ) {
    const rec = await deps.trail.get(portalId, dealId, cmd.key);
    if (!rec || rec.status === 'resolved') return 'nothing';
    const done = (patch: Partial<PageRecord> = {}) =>
      record(portalId, dealId, rec, {
        status: 'resolved',
        before: rec.status,
        resolvedAt: clock(),
        resolvedWhy: cmd.why,
        ...patch,
      });
    if (rec.status === 'held' || rec.status === 'queued') {
      // Never sent: drop the job (a job already running sees the resolved record and sends nothing).
      await deps.queue.dropHeld(portalId, cmd.key);
      await done();
      pageMetric.inc({ channel: rec.kind ?? 'none', outcome: 'resolved' });
      return 'dropped';
    }
    if (rec.status !== 'sent' || rec.channel === null) {
      await done();
      return 'recorded';
    }
    const channel = (await deps.channels.get(portalId)).channels[rec.channel];
    if (channel) {
      const note = { stage: rec.stage, level: rec.level, link: dealLink(portalId, dealId, deps.appOrigin) };
      const result = await deliver(
        channel,
        { action: 'resolve', portalId, key: cmd.key, dealId, why: cmd.why, note },
        { ...(deps.fetch ? { fetch: deps.fetch } : {}), clock },
      );
      if (!result.ok) {
        const last = job.attemptsMade + 1 >= (job.opts.attempts ?? PAGE_ATTEMPTS);
        await deps.channels.recordFailure(portalId, rec.channel, result.code, !result.retryable);
        if (result.retryable && !last) throw new RetryPageLater(result.code, result.retryAfterMs);
        await record(portalId, dealId, rec, { error: `resolve_${result.code}` });
        pageMetric.inc({ channel: channel.kind, outcome: 'failed' });
        throw new UnrecoverableError(`resolve failed on channel ${rec.channel} (${result.code})`);
      }
    }
    await done();
    pageMetric.inc({ channel: channel?.kind ?? 'none', outcome: 'resolved' });
    return 'resolved';
  }

  return async function processPage(job: Job<PageJobData>): Promise<string> {
    const parsed = PageJobData.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`page job ${job.id} has an invalid payload`);
    const { p, d, c } = parsed.data as PageJobData;
    return c.type === 'page' ? trigger(job, p, d, c) : resolve(job, p, d, c);
  };
}

export type PageWorkerOptions = PageProcessorDeps & {
  connection: ConnectionOptions;
  bullPrefix: string;
  concurrency?: number;
  /** First retry delay; later ones double (tests shorten it). */
  backoffBaseMs?: number;
};

export function startPageWorker(opts: PageWorkerOptions): Worker<PageJobData> {
  const worker = new Worker<PageJobData>(PAGE_QUEUE, createPageProcessor(opts), {
    connection: opts.connection,
    prefix: opts.bullPrefix,
    concurrency: opts.concurrency ?? 20,
    settings: { backoffStrategy: pageBackoff(opts.backoffBaseMs ?? 5_000) },
  });
  worker.on('error', (err) =>
    opts.log.error({ queue: PAGE_QUEUE, err: { name: err.name } }, 'page worker error'),
  );
  return worker;
}
