import { createHash } from 'node:crypto';
import { Command, type PageCommand, type ResolvePageCommand } from '@stagekeeper/shared';
import { Queue, type ConnectionOptions } from 'bullmq';
import { z } from 'zod';
import { pages as pageMetric } from '../metrics';
import { HubSpotIdString, QUEUE_STREAMS } from '../queue/job-ids';
import type { PageTrail } from './page-trail';

export const PAGE_QUEUE = 'pages';

/** Delivery attempts per page before it is recorded as failed (the HubSpot task exists regardless). */
export const PAGE_ATTEMPTS = 8;

export type PageJobCommand = PageCommand | ResolvePageCommand;

export const PageJobData = z.object({
  p: HubSpotIdString,
  d: HubSpotIdString,
  c: Command.refine(
    (c) => c.type === 'page' || c.type === 'resolvePage',
    'expected a page or resolvePage command',
  ),
});
export type PageJobData = { p: string; d: string; c: PageJobCommand };

/** 16 base64url characters of SHA-256 (BullMQ forbids ":" in ids): one job per page and per resolve. */
const digest = (portalId: string, key: string) =>
  createHash('sha256').update(`${portalId}\n${key}`).digest('base64url').slice(0, 16);
export const pageJobId = (portalId: string, key: string) => `pg-${digest(portalId, key)}`;
export const resolveJobId = (portalId: string, key: string) => `pr-${digest(portalId, key)}`;

/**
 * Pages as BullMQ jobs. A page is held (a delayed job) until the role's staffed hours, retried with back-off
 * that honours each service's Retry-After, and deduplicated twice: by job id while the job is kept, and by the
 * deal's trail afterwards (a replayed decision finds the page already sent).
 */
export class PageQueue {
  readonly queue: Queue<PageJobData>;

  constructor(
    connection: ConnectionOptions,
    bullPrefix: string,
    private readonly trail: PageTrail,
    private readonly clock: () => number = Date.now,
    attempts = PAGE_ATTEMPTS,
  ) {
    this.queue = new Queue<PageJobData>(PAGE_QUEUE, {
      connection,
      prefix: bullPrefix,
      defaultJobOptions: {
        attempts,
        backoff: { type: 'page' },
        removeOnComplete: { age: 7 * 24 * 3600, count: 10_000 },
        removeOnFail: 10_000,
      },
      streams: QUEUE_STREAMS,
    });
  }

  async enqueue(portalId: string, dealId: string, cmd: PageJobCommand): Promise<void> {
    const now = this.clock();
    if (cmd.type === 'resolvePage') {
      await this.queue.add(
        'resolve',
        { p: portalId, d: dealId, c: cmd },
        { jobId: resolveJobId(portalId, cmd.key) },
      );
      return;
    }
    const held = cmd.notBefore > now;
    const created = await this.trail.create(portalId, dealId, {
      key: cmd.key,
      entryId: cmd.entryId,
      level: cmd.facts.level,
      stage: cmd.facts.stage.label,
      channel: cmd.channel,
      kind: null,
      status: held ? 'held' : 'queued',
      notBefore: cmd.notBefore,
      updatedAt: now,
      attempts: 0,
      sentAt: null,
      resolvedAt: null,
      resolvedWhy: null,
      before: null,
      error: null,
      dedupKey: null,
    });
    if (!created) {
      const existing = await this.trail.get(portalId, dealId, cmd.key);
      // Only a page still waiting may need its job (re)added, e.g. after Redis lost the queue but kept the trail.
      if (existing && existing.status !== 'held' && existing.status !== 'queued') {
        pageMetric.inc({ channel: 'none', outcome: 'deduplicated' });
        return;
      }
    }
    await this.queue.add(
      'page',
      { p: portalId, d: dealId, c: cmd },
      { jobId: pageJobId(portalId, cmd.key), delay: Math.max(0, cmd.notBefore - now) },
    );
  }

  /** A held page whose visit ended before it went out is simply dropped. */
  async dropHeld(portalId: string, key: string): Promise<void> {
    await this.queue.remove(pageJobId(portalId, key));
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}
