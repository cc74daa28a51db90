import { AsyncLocalStorage } from 'node:async_hooks';
import type { Client } from '@hubspot/api-client';
import { HubSpotClientFactory, responseStatus } from './client';
import {
  classify,
  HubSpotDailyLimitError,
  HubSpotRequestError,
  HubSpotUnavailableError,
  type Failure,
} from './errors';
import { DailyLimitBlocked, type Bucket, type Lane, type RateLimiter } from './limiter';
import { hubspotCalls } from '../metrics';

/** Shape of a prom-client Counter with labels operation/outcome (metrics.ts `hubspotCalls` fits). */
export type CallMetrics = { inc(labels: { operation: string; outcome: string }): void };
/** The part of a pino logger used here. Only ids, operation names, statuses and codes are logged. */
export type CallLogger = {
  warn(obj: Record<string, unknown>, msg: string): void;
  debug?(obj: Record<string, unknown>, msg: string): void;
};

export type RetryPolicy = {
  /** Attempts for 5xx / network / 423 failures, the first included. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Burst 429s tolerated for one call before giving up with HubSpotUnavailableError (the job retries later). */
  maxRateLimitRetries: number;
  /** HubSpot documents write locks (423) as lasting about 2 s. */
  lockedDelayMs: number;
};

const DEFAULT_RETRY: RetryPolicy = {
  maxAttempts: 5,
  baseDelayMs: 250,
  maxDelayMs: 8_000,
  maxRateLimitRetries: 20,
  lockedDelayMs: 2_000,
};

/**
 * The limiter lane of the calls made inside `asInteractive` (the deal card's reads and writes): ahead of bulk
 * work. Async context rather than a parameter, so gateway methods shared by workers and the card need no flag.
 */
export const callLane = new AsyncLocalStorage<Lane>();
export const asInteractive = <T>(fn: () => Promise<T>): Promise<T> => callLane.run('interactive', fn);

/**
 * When the person waiting stops waiting (epoch ms): an interactive call made inside `withDeadline` takes no rate
 * slot after it (the limiter's LaneBusy), so a card that already answered from saved state spends none.
 */
export const callDeadline = new AsyncLocalStorage<number>();
export const withDeadline = <T>(until: number, fn: () => Promise<T>): Promise<T> =>
  callDeadline.run(until, fn);

/**
 * Interactive calls made inside `withoutSlotWait` take a rate slot only if one is free at once (the limiter's
 * `once`), else fail with LaneBusy: the card answers from what Stagekeeper has rather than queue (issue #18).
 */
export const callNoSlotWait = new AsyncLocalStorage<boolean>();
export const withoutSlotWait = <T>(fn: () => Promise<T>): Promise<T> => callNoSlotWait.run(true, fn);

/**
 * Where the calls made inside `timed` spent their time: waiting for a rate slot, and in HubSpot (request to
 * answer). The card reports both per request (Server-Timing), so a slow card says which of them it waited on.
 */
export type CallTiming = { slotMs: number; hubspotMs: number; calls: number };
export const callTiming = new AsyncLocalStorage<CallTiming>();
export const timed = <T>(timing: CallTiming, fn: () => Promise<T>): Promise<T> => callTiming.run(timing, fn);

export type CallOptions = {
  bucket?: Bucket;
  /** Defaults to the async context's lane (`asInteractive`), else bulk. */
  lane?: Lane;
  /**
   * False for creates: after a 5xx or a connection dropped mid-request HubSpot may have created the records, so
   * the call is not repeated blindly; the caller gets `HubSpotUnavailableError{maybeApplied}` and reconciles.
   */
  idempotent?: boolean;
  /**
   * A slot already taken for this call (`admit`), used by its first attempt instead of acquiring one; retries
   * acquire their own.
   */
  slot?: string;
};

export type HubSpotCallerOptions = {
  clients: HubSpotClientFactory;
  limiter: RateLimiter;
  /** Defaults to metrics.ts `hubspotCalls`. */
  metrics?: CallMetrics;
  logger?: CallLogger;
  retry?: Partial<RetryPolicy>;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
};

/** Connection never established: the request cannot have reached HubSpot, so even a create may be repeated. */
const NOT_SENT = new Set([
  'ECONNREFUSED',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

const OUTCOME: Record<Failure['kind'], string> = {
  burst: 'rate_limited',
  daily: 'daily_limit',
  expired_auth: 'auth_expired',
  locked: 'locked',
  server: 'server_error',
  network: 'network_error',
  unparseable: 'server_error',
  request: 'client_error',
  unknown: 'error',
};

/** A portal-bound view, handy for code that works on one portal (provisioning, the CLI). */
export interface PortalCaller {
  readonly portalId: string;
  call<T>(operation: string, fn: (client: Client) => Promise<T>, options?: CallOptions): Promise<T>;
}

/**
 * The one path every HubSpot request takes: shared rate limiter, per-attempt metrics, and retries that follow
 * HubSpot's bodies. Errors leave as HubSpotDailyLimitError / HubSpotUnavailableError (try later) or
 * HubSpotRequestError (this input will not work).
 */
export class HubSpotCaller {
  private readonly retry: RetryPolicy;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;

  constructor(private readonly opts: HubSpotCallerOptions) {
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
    this.sleep = opts.sleep ?? ((ms) => new Promise<void>((r) => setTimeout(r, ms)));
    this.random = opts.random ?? Math.random;
  }

  forPortal(portalId: string): PortalCaller {
    return { portalId, call: (operation, fn, options) => this.call(portalId, operation, fn, options) };
  }

  async call<T>(
    portalId: string,
    operation: string,
    fn: (client: Client) => Promise<T>,
    options: CallOptions = {},
  ): Promise<T> {
    const bucket = options.bucket ?? 'default';
    const lane = options.lane ?? callLane.getStore() ?? 'bulk';
    const idempotent = options.idempotent ?? true;
    let failures = 0;
    let rateLimited = 0;
    let refreshed = false;
    let admitted = options.slot;

    for (;;) {
      const { client, token } = await this.opts.clients.forPortal(portalId);
      let slot: string | void = admitted;
      admitted = undefined;
      const timing = callTiming.getStore();
      const waited = performance.now();
      try {
        slot ??= await this.opts.limiter.acquire(
          portalId,
          bucket,
          lane,
          lane === 'interactive' ? callDeadline.getStore() : undefined,
          lane === 'interactive' && callNoSlotWait.getStore() === true,
        );
      } catch (err) {
        // Another call already met the daily limit: no request is made until the reset.
        if (err instanceof DailyLimitBlocked)
          throw new HubSpotDailyLimitError({ portalId, operation, retryAt: err.retryAt });
        throw err;
      } finally {
        if (timing) timing.slotMs += performance.now() - waited;
      }
      const seen: { status?: number; headers?: Record<string, string> } = {};
      let failure: Failure;
      const sent = performance.now();
      try {
        const result = await responseStatus
          .run(seen, () => fn(client))
          .finally(() => {
            if (timing) {
              timing.hubspotMs += performance.now() - sent;
              timing.calls++;
            }
          });
        this.count(operation, 'ok');
        await this.afterCall(portalId, bucket, slot, seen.headers);
        return result;
      } catch (err) {
        failure = classify(err, seen.status);
      }
      await this.afterCall(portalId, bucket, slot, seen.headers);
      this.count(operation, OUTCOME[failure.kind]);
      const log = { portalId, operation, failure: failure.kind, attempt: failures + rateLimited + 1 };

      switch (failure.kind) {
        case 'burst': {
          rateLimited++;
          if (rateLimited > this.retry.maxRateLimitRetries)
            throw new HubSpotUnavailableError({
              portalId,
              operation,
              attempts: failures + rateLimited,
              lastFailure: `429 ${failure.window}`,
              status: 429,
            });
          // HubSpot counts its window on its side; our shared window evidently disagrees (another app, another
          // deployment, a smaller plan), so every worker pauses for one full window of the bucket that was hit.
          const hit: Bucket = failure.window === 'secondly' ? 'search' : 'default';
          const windowMs = this.opts.limiter.window(portalId, hit).windowMs;
          const waitMs = windowMs + Math.floor(this.random() * windowMs * 0.1);
          this.opts.logger?.warn(
            { ...log, correlationId: failure.correlationId, waitMs },
            'hubspot rate limited',
          );
          await this.opts.limiter.backOff(portalId, hit, waitMs);
          continue;
        }
        case 'daily': {
          // Every process of the portal stops calling until the reset; the job is delayed to then (worker).
          const retryAt = (await this.opts.limiter.blockDaily?.(portalId)) ?? Date.now() + 3_600_000;
          this.opts.logger?.warn(
            { ...log, correlationId: failure.correlationId, retryAt: new Date(retryAt).toISOString() },
            'hubspot daily limit reached',
          );
          throw new HubSpotDailyLimitError({
            portalId,
            operation,
            correlationId: failure.correlationId,
            retryAt,
          });
        }
        case 'expired_auth': {
          if (!refreshed && (await this.opts.clients.tokens.refresh(portalId, token))) {
            refreshed = true;
            continue;
          }
          throw new HubSpotRequestError({
            portalId,
            operation,
            status: 401,
            category: 'EXPIRED_AUTHENTICATION',
            correlationId: failure.correlationId,
            detail: 'token expired and could not be refreshed',
          });
        }
        case 'request':
          // A token HubSpot no longer knows (401 INVALID_AUTHENTICATION): one refresh tells a stale access token
          // from an app uninstalled on HubSpot's side, whose refresh token is refused (the provider reports it).
          if (
            failure.status === 401 &&
            !refreshed &&
            (await this.opts.clients.tokens.refresh(portalId, token))
          ) {
            refreshed = true;
            continue;
          }
          throw new HubSpotRequestError({
            portalId,
            operation,
            status: failure.status,
            category: failure.category,
            correlationId: failure.correlationId,
            detail: failure.detail,
            properties: failure.properties,
          });
        case 'unknown':
          throw failure.error;
        case 'locked':
        case 'server':
        case 'network':
        case 'unparseable': {
          failures++;
          const status =
            failure.kind === 'server'
              ? failure.status
              : failure.kind === 'unparseable'
                ? failure.status
                : undefined;
          const what =
            failure.kind === 'server'
              ? `${failure.status}`
              : failure.kind === 'network'
                ? failure.code
                : failure.kind === 'locked'
                  ? '423 locked'
                  : `unparseable response${failure.status ? ` (${failure.status})` : ''}`;
          const unsent =
            failure.kind === 'locked' || (failure.kind === 'network' && NOT_SENT.has(failure.code));
          if (!idempotent && !unsent)
            throw new HubSpotUnavailableError({
              portalId,
              operation,
              attempts: failures + rateLimited,
              lastFailure: what,
              status,
              maybeApplied: true,
            });
          if (failures >= this.retry.maxAttempts)
            throw new HubSpotUnavailableError({
              portalId,
              operation,
              attempts: failures + rateLimited,
              lastFailure: what,
              status,
            });
          const waitMs = failure.kind === 'locked' ? this.retry.lockedDelayMs : this.backoff(failures);
          this.opts.logger?.warn({ ...log, what, waitMs }, 'hubspot call failed, retrying');
          await this.sleep(waitMs);
          continue;
        }
      }
    }
  }

  /**
   * Waits for a bulk rate slot of the portal's bucket and returns it, for a call whose inputs are gathered only
   * once it may go out (coalesce.ts); pass it as `slot`. Rejects as `acquire` does (DailyLimitBlocked).
   */
  async admit(portalId: string, bucket: Bucket = 'default'): Promise<string | undefined> {
    return (await this.opts.limiter.acquire(portalId, bucket, 'bulk')) ?? undefined;
  }

  get policy(): Readonly<RetryPolicy> {
    return this.retry;
  }

  /** Waits as the wrapper does after its n-th transient failure; for callers that retry a whole step themselves. */
  pause(failures: number): Promise<void> {
    return this.sleep(this.backoff(failures));
  }

  /** Exponential backoff with "equal jitter": never shorter than half the step, and workers spread apart. */
  private backoff(failures: number): number {
    const cap = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (failures - 1));
    return Math.floor(cap / 2 + this.random() * (cap / 2));
  }

  /**
   * The call's slot is re-dated to its answer, and the rate-limit headers follow the portal's real budget; a
   * failure of either never fails the call.
   */
  private async afterCall(
    portalId: string,
    bucket: Bucket,
    slot: string | void,
    headers: Record<string, string> | undefined,
  ): Promise<void> {
    try {
      if (slot && this.opts.limiter.settle) await this.opts.limiter.settle(portalId, bucket, slot);
      if (headers && this.opts.limiter.observe) await this.opts.limiter.observe(portalId, bucket, headers);
    } catch {
      // Redis blinked: the configured plan still holds.
    }
  }

  private count(operation: string, outcome: string): void {
    try {
      (this.opts.metrics ?? hubspotCalls).inc({ operation, outcome });
    } catch {
      // Metrics must never break a HubSpot call.
    }
  }
}
