import type { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from '../log';
import { observeQueueDepth } from '../metrics';
import type { DealStateStore } from '../state/deal-state-store';
import { redisKeys } from '../state/keys';
import { ChannelStore } from './channel-store';
import { DEFAULT_HUBSPOT_APP_ORIGIN } from './app-origin';
import { PageQueue, type PageJobCommand } from './page-queue';
import { PageTrail } from './page-trail';
import { startPageWorker, type PageProcessorDeps } from './page-worker';

export { ChannelStore } from './channel-store';
export { PageTrail } from './page-trail';
export { PageQueue } from './page-queue';

export type PagingOptions = {
  redis: Redis;
  /** The connection BullMQ's page queue defines its scripts on (service.ts: not the stores' one); `redis` if absent. */
  queueRedis?: Redis;
  /** A connection with maxRetriesPerRequest null, for the worker; no worker without it. */
  workerRedis?: Redis;
  prefix: string;
  /** TOKEN_ENCRYPTION_KEY; without it no channel can be configured and every page falls back to its HubSpot task. */
  encryptionKey: string | undefined;
  log: Logger;
  clock?: () => number;
  /** Used to skip pages whose stage visit ended before they went out. */
  states?: Pick<DealStateStore, 'load'>;
  allowHttpLoopback?: boolean;
  fetch?: PageProcessorDeps['fetch'];
  /** HUBSPOT_APP_ORIGIN: deal links point there (app-eu1.hubspot.com for EU-hosted accounts). */
  appOrigin?: string;
  backoffBaseMs?: number;
  /** Delivery attempts per page (tests shorten it). */
  attempts?: number;
};

export type Paging = {
  channels: ChannelStore;
  trail: PageTrail;
  queue: PageQueue;
  worker: Worker | undefined;
  enqueue(portalId: string, dealId: string, cmd: PageJobCommand): Promise<void>;
  close(): Promise<void>;
};

/** The paging side of the service: channel store, trail, page queue and (when asked) its worker. */
export function createPaging(opts: PagingOptions): Paging {
  const clock = opts.clock ?? Date.now;
  const appOrigin = opts.appOrigin ?? DEFAULT_HUBSPOT_APP_ORIGIN;
  const channels = new ChannelStore({
    redis: opts.redis,
    prefix: opts.prefix,
    keys: opts.encryptionKey,
    log: opts.log,
    clock,
    ...(opts.allowHttpLoopback ? { allowHttpLoopback: true } : {}),
  });
  const trail = new PageTrail(opts.redis, opts.prefix);
  const bullPrefix = redisKeys(opts.prefix).bullPrefix();
  const queue = new PageQueue(opts.queueRedis ?? opts.redis, bullPrefix, trail, clock, opts.attempts);
  const stopObserving = observeQueueDepth(queue.queue);
  const states = opts.states;
  const worker = opts.workerRedis
    ? startPageWorker({
        connection: opts.workerRedis,
        bullPrefix,
        channels,
        trail,
        queue,
        log: opts.log,
        clock,
        ...(states
          ? {
              isCurrentEntry: async (p: string, d: string, entryId: string) =>
                (await states.load(p, d)).state?.current?.entryId === entryId,
            }
          : {}),
        ...(opts.fetch ? { fetch: opts.fetch } : {}),
        appOrigin,
        ...(opts.backoffBaseMs !== undefined ? { backoffBaseMs: opts.backoffBaseMs } : {}),
      })
    : undefined;
  return {
    channels,
    trail,
    queue,
    worker,
    enqueue: (portalId, dealId, cmd) => queue.enqueue(portalId, dealId, cmd),
    async close() {
      await worker?.close();
      stopObserving();
      await queue.close();
    },
  };
}
