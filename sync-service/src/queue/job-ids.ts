import { createHash } from 'node:crypto';
import { z } from 'zod';

/**
 * A HubSpot id (portal, deal) as every queue payload carries it: a string of digits. Checked when a payload is
 * read back, so a job written by hand or by another version never reaches a Redis key or a HubSpot call.
 */
export const HubSpotIdString = z.string().regex(/^\d+$/);

export const QUEUE_NAMES = {
  ingest: 'ingest',
  reconcile: 'reconcile',
  timers: 'timers',
  sweep: 'sweep',
} as const;

/** Escapes ":" (forbidden by BullMQ) reversibly, so distinct timer ids never share a job id. */
const escapeTimerId = (timerId: string) => timerId.replace(/%/g, '%25').replace(/:/g, '%3A');

/**
 * 72 bits of SHA-256 over (portal, engine timer id), base64url (no ":", which BullMQ forbids). The job id
 * appears three times per pending timer (job hash key, delayed-zset member, the job's `opts.jobId`), so it is
 * kept short; portal and readable timer id travel in the job data. A collision would need ~2^36 pending timers.
 */
const timerDigest = (portalId: string, timerId: string) =>
  createHash('sha256').update(`${portalId}\n${timerId}`).digest('base64url').slice(0, 12);

/**
 * Timer job id: deterministic from (portal, engine timer id), which the engine derives from
 * (deal, stage entry, level), so rescheduling replaces and cancelling finds the job.
 */
export const timerJobId = (portalId: string, timerId: string) => `tm-${timerDigest(portalId, timerId)}`;

/** Used only while the primary job of the same timer is running (it cannot be replaced mid-flight). */
export const timerRetryJobId = (portalId: string, timerId: string) => `tr-${timerDigest(portalId, timerId)}`;

/**
 * The ids timers were scheduled under before the short ids (`tm-<portal>-<escaped timer id>`, plus `%next` for
 * the re-arm-while-firing copy). Timers armed before that deploy may still be pending for weeks: schedule and
 * cancel remove these too, so replace/cancel keep working for them. Drop once no such job can remain.
 */
export const legacyTimerJobIds = (portalId: string, timerId: string): [string, string] => {
  const id = `tm-${portalId}-${escapeTimerId(timerId)}`;
  return [id, `${id}%next`];
};

/** Every job id a pending firing of this timer can have, primary first. */
export const allTimerJobIds = (portalId: string, timerId: string): string[] => [
  timerJobId(portalId, timerId),
  timerRetryJobId(portalId, timerId),
  ...legacyTimerJobIds(portalId, timerId),
];

/**
 * Retries and retention for jobs that carry a request HubSpot was already told we have (ingest; reconcile runs
 * retry the same way, queue/reconcile-poller.ts): eight tries over about four minutes, and failures kept a week
 * so an operator can see what failed.
 */
export const DURABLE_JOB_OPTIONS = {
  attempts: 8,
  backoff: { type: 'exponential', delay: 1_000 },
  removeOnComplete: true,
  removeOnFail: { age: 7 * 24 * 3600, count: 10_000 },
} as const;

/**
 * The events stream every BullMQ queue keeps (`<queue>:events`), capped small. BullMQ writes several events per
 * job (added, delayed, active, completed, removed...) and keeps the last 10,000 by default: ~1.3 MB per queue,
 * which a bulk move fills and which then stays. Only `QueueEvents` listeners read it and the service runs none
 * (job outcomes are in the metrics and logs), so the last hundred or so are kept for an operator's XREVRANGE.
 * Trimming is approximate (whole stream nodes of 100 entries), so the stream holds between 100 and ~200.
 */
export const QUEUE_STREAMS = { events: { maxLen: 100 } } as const;
