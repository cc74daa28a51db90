import { describe, expect, it } from 'vitest';
import { NoTokenError } from '../hubspot/client';
import { HubSpotDailyLimitError, HubSpotRequestError, HubSpotUnavailableError } from '../hubspot/errors';
import { retryPlan, TIMER_ATTEMPTS } from './timer-poller';

const NOW = 1_000_000;
const unavailable = new HubSpotUnavailableError({
  portalId: '7',
  operation: 'x',
  attempts: 3,
  lastFailure: '503',
});

describe('retryPlan: what a failed firing becomes (the old timer jobs: 10 tries, exponential from 2 s)', () => {
  it('retries a transient failure after 2 s, 4 s, 8 s ... and drops it after the 10th try', () => {
    expect(retryPlan(unavailable, 0, NOW)).toEqual({ at: NOW + 2_000, attempts: 1 });
    expect(retryPlan(unavailable, 1, NOW)).toEqual({ at: NOW + 4_000, attempts: 2 });
    expect(retryPlan(new Error('state conflict'), 8, NOW)).toEqual({ at: NOW + 512_000, attempts: 9 });
    expect(retryPlan(unavailable, TIMER_ATTEMPTS - 1, NOW)).toEqual({ drop: 'failed 10 times' });
  });

  it('drops at once what HubSpot refused as a request, or a portal without tokens', () => {
    const refused = new HubSpotRequestError({ portalId: '7', operation: 'x', status: 400, detail: 'bad' });
    expect(retryPlan(refused, 0, NOW)).toEqual({ drop: 'HubSpot refused the request' });
    expect(retryPlan(new NoTokenError('7'), 0, NOW)).toHaveProperty('drop');
    // One deal of a shared batch refused among others unavailable: still worth retrying.
    expect(retryPlan({ failures: [{ error: refused }, { error: unavailable }] }, 0, NOW)).toHaveProperty(
      'at',
    );
  });

  it("waits for the portal's daily reset, spread over a minute, without spending an attempt", () => {
    const realNow = 5_000_000;
    const daily = new HubSpotDailyLimitError({ portalId: '7', operation: 'x', retryAt: realNow + 3_600_000 });
    // On the service clock (here 1,000,000) as far ahead as the reset is on the wall clock.
    expect(retryPlan(daily, 3, NOW, () => 0.5, realNow)).toEqual({
      at: NOW + 3_600_000 + 30_000,
      attempts: 3,
    });
    const soon = new HubSpotDailyLimitError({ portalId: '7', operation: 'x', retryAt: realNow - 5_000 });
    expect(retryPlan(soon, 0, NOW, () => 0, realNow)).toEqual({ at: NOW + 1_000, attempts: 0 });
  });
});
