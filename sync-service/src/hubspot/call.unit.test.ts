import { ApiException } from '@hubspot/api-client/lib/codegen/crm/deals/apis/exception';
import { describe, expect, it } from 'vitest';
import { HubSpotCaller } from './call';
import { HubSpotClientFactory, type TokenProvider } from './client';
import { HubSpotDailyLimitError, HubSpotRequestError, HubSpotUnavailableError } from './errors';
import type { Bucket, RateLimiter, Window } from './limiter';

const apiError = (status: number, body: unknown) => new ApiException(status, 'An error occurred.', body, {});
const burst = () =>
  apiError(429, {
    status: 'error',
    message: 'You have reached your ten_secondly_rolling limit.',
    errorType: 'RATE_LIMIT',
    correlationId: 'c1',
    policyName: 'TEN_SECONDLY_ROLLING',
  });
const secondly = () =>
  apiError(429, {
    status: 'error',
    message: 'You have reached your secondly limit.',
    errorType: 'RATE_LIMIT',
    correlationId: 'c2',
  });
const daily = () =>
  apiError(429, {
    status: 'error',
    message: 'You have reached your daily limit.',
    errorType: 'RATE_LIMIT',
    correlationId: 'c3',
    policyName: 'DAILY',
  });
const server = (status = 502) =>
  apiError(status, {
    status: 'error',
    message: 'internal error',
    correlationId: 'c4',
    category: 'INTERNAL_ERROR',
  });

/** Records what the caller asks of the limiter; never waits. */
class RecordingLimiter implements RateLimiter {
  acquired: Bucket[] = [];
  backOffs: Array<{ bucket: Bucket; ms: number }> = [];
  async acquire(_p: string, bucket: Bucket) {
    this.acquired.push(bucket);
  }
  async backOff(_p: string, bucket: Bucket, ms: number) {
    this.backOffs.push({ bucket, ms });
  }
  window(_p: string, bucket: Bucket): Window {
    return bucket === 'search' ? { max: 5, windowMs: 1_000 } : { max: 190, windowMs: 10_000 };
  }
}

class RotatingTokens implements TokenProvider {
  current = 'token-1';
  refreshes = 0;
  async accessToken() {
    return this.current;
  }
  async refresh(_p: string, rejected: string) {
    this.refreshes++;
    if (rejected === this.current) this.current = `token-${this.refreshes + 1}`;
    return true;
  }
}

function setup(retry = {}) {
  const limiter = new RecordingLimiter();
  const tokens = new RotatingTokens();
  const sleeps: number[] = [];
  const outcomes: string[] = [];
  const caller = new HubSpotCaller({
    clients: new HubSpotClientFactory({ tokens, basePath: 'http://127.0.0.1:9' }),
    limiter,
    metrics: { inc: ({ outcome }) => outcomes.push(outcome) },
    sleep: async (ms) => void sleeps.push(ms),
    random: () => 0.5,
    retry,
  });
  return { caller, limiter, tokens, sleeps, outcomes };
}

/** A call that fails with the given errors in turn, then returns "done". */
function script(...errors: unknown[]) {
  let i = 0;
  const tokensSeen: string[] = [];
  const fn = async (client: { config: { accessToken?: string } }) => {
    tokensSeen.push(client.config.accessToken ?? '');
    const e = errors[i++];
    if (e) throw e;
    return 'done';
  };
  return { fn, calls: () => i, tokensSeen };
}

describe('HubSpotCaller', () => {
  it('burst 429: every worker backs off one window of that bucket, then the call goes through', async () => {
    const { caller, limiter, outcomes } = setup();
    const s = script(burst(), secondly());
    expect(await caller.call('1', 'deals.batch.read', s.fn)).toBe('done');
    expect(limiter.backOffs.map((b) => b.bucket)).toEqual(['default', 'search']);
    expect(limiter.backOffs[0]!.ms).toBeGreaterThanOrEqual(10_000);
    expect(limiter.backOffs[1]!.ms).toBeGreaterThanOrEqual(1_000);
    expect(limiter.acquired).toHaveLength(3);
    expect(outcomes).toEqual(['rate_limited', 'rate_limited', 'ok']);
  });

  it('daily 429 fails at once with its own error', async () => {
    const { caller, outcomes } = setup();
    const s = script(daily());
    await expect(caller.call('1', 'deals.update', s.fn)).rejects.toBeInstanceOf(HubSpotDailyLimitError);
    expect(s.calls()).toBe(1);
    expect(outcomes).toEqual(['daily_limit']);
  });

  it('5xx and network errors back off exponentially, bounded', async () => {
    const { caller, sleeps } = setup({ maxAttempts: 4, baseDelayMs: 100 });
    const refused = new TypeError('fetch failed', {
      cause: Object.assign(new Error('x'), { code: 'ECONNRESET' }),
    });
    const s = script(server(500), refused, server(503));
    expect(await caller.call('1', 'deals.batch.read', s.fn)).toBe('done');
    // Equal jitter with random=0.5: 75 % of 100, 200, 400.
    expect(sleeps).toEqual([75, 150, 300]);

    const always = script(server(), server(), server(), server(), server());
    const err = await caller.call('1', 'deals.batch.read', always.fn).catch((e) => e);
    expect(err).toBeInstanceOf(HubSpotUnavailableError);
    expect(err.maybeApplied).toBe(false);
    expect(always.calls()).toBe(4);
  });

  it('a create is not repeated after an ambiguous failure, but is after a refused connection or a lock', async () => {
    const { caller } = setup();
    const ambiguous = script(server(504));
    const err = await caller
      .call('1', 'tasks.batch.create', ambiguous.fn, { idempotent: false })
      .catch((e) => e);
    expect(err).toBeInstanceOf(HubSpotUnavailableError);
    expect(err.maybeApplied).toBe(true);
    expect(ambiguous.calls()).toBe(1);

    const refused = new TypeError('fetch failed', {
      cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }),
    });
    const safe = script(refused, apiError(423, { status: 'error', message: 'locked', correlationId: 'c' }));
    expect(await caller.call('1', 'tasks.batch.create', safe.fn, { idempotent: false })).toBe('done');
  });

  it('an expired token is refreshed once and the call repeated with the new token', async () => {
    const { caller, tokens } = setup();
    const expired = () =>
      apiError(401, {
        status: 'error',
        message: 'expired',
        correlationId: 'c',
        category: 'EXPIRED_AUTHENTICATION',
      });
    const s = script(expired());
    expect(await caller.call('1', 'deals.batch.read', s.fn)).toBe('done');
    expect(s.tokensSeen).toEqual(['token-1', 'token-2']);
    expect(tokens.refreshes).toBe(1);

    const twice = script(expired(), expired());
    const err = await caller.call('1', 'deals.batch.read', twice.fn).catch((e) => e);
    expect(err).toBeInstanceOf(HubSpotRequestError);
    expect(err.status).toBe(401);
    expect(tokens.refreshes).toBe(2);
  });

  it('other 4xx become HubSpotRequestError with status, category and correlation id, without values', async () => {
    const { caller } = setup();
    const s = script(
      apiError(400, {
        status: 'error',
        message:
          'Property values were not valid: [{"isValid":false,"message":"Jane Doe was not a valid number","error":"INVALID_INTEGER","name":"stagekeeper_breach_count"}]',
        correlationId: '5b7c',
        category: 'VALIDATION_ERROR',
      }),
    );
    const err = await caller.call('1', 'deals.update', s.fn).catch((e) => e);
    expect(err).toBeInstanceOf(HubSpotRequestError);
    expect(err).toMatchObject({
      status: 400,
      category: 'VALIDATION_ERROR',
      correlationId: '5b7c',
      properties: ['stagekeeper_breach_count'],
    });
    expect(err.message).not.toContain('Jane');
    expect(s.calls()).toBe(1);
  });

  it('a burst storm that never ends gives up with a retryable error', async () => {
    const { caller } = setup({ maxRateLimitRetries: 3 });
    const s = script(burst(), burst(), burst(), burst(), burst());
    await expect(caller.call('1', 'deals.batch.read', s.fn)).rejects.toBeInstanceOf(HubSpotUnavailableError);
    expect(s.calls()).toBe(4);
  });
});
