import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import { NoTokenError } from './client';
import { HubSpotDailyLimitError, HubSpotRequestError } from './errors';

/** The HubSpot errors behind a job's failure: the error itself, or each deal's inside a DealProcessingError. */
export function causes(err: unknown): unknown[] {
  const failures = (err as { failures?: unknown } | null)?.failures;
  if (Array.isArray(failures)) return failures.map((f) => (f as { error?: unknown })?.error);
  return [err];
}

/**
 * What a failed job should become, by the HubSpot error behind it (issue 13):
 * - a DAILY limit: the job moves to the portal's reset time without spending an attempt (BullMQ's
 *   exponential retries would burn all eight in minutes while nothing can succeed before the reset);
 * - only 4xx request errors (not 429, which the caller handles) or no tokens: failed once, as unrecoverable, since
 *   the same request gets the same answer; the next event or sweep of the deal starts a fresh job;
 * - anything else (5xx, network, conflicts): thrown as is, for BullMQ's ordinary retries.
 * Returns the error to throw from the processor.
 */
export async function settleJobFailure(
  err: unknown,
  job: Job,
  token: string | undefined,
  random: () => number = Math.random,
): Promise<unknown> {
  const all = causes(err);
  const daily = all.find((e): e is HubSpotDailyLimitError => e instanceof HubSpotDailyLimitError);
  if (daily && token) {
    // Spread the wake-up over a minute: the first call of the portal probes; the limiter's block holds the rest.
    const at = Math.max(
      Date.now() + 1_000,
      (daily.retryAt ?? Date.now() + 3_600_000) + Math.floor(random() * 60_000),
    );
    await job.moveToDelayed(at, token);
    return new DelayedError(
      `daily HubSpot limit for portal ${daily.portalId}: delayed to ${new Date(at).toISOString()}`,
    );
  }
  // A portal without tokens (uninstalled) stays that way until someone installs again: no retry helps.
  if (all.length > 0 && all.every((e) => e instanceof HubSpotRequestError || e instanceof NoTokenError))
    return new UnrecoverableError(err instanceof Error ? err.message : 'HubSpot refused the request');
  return err;
}
