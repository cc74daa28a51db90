import { randomUUID } from 'node:crypto';

export const QUEUE_NAMES = { reconcile: 'reconcile', timers: 'timers', sweep: 'sweep' } as const;

/**
 * The deal's coalescing identity: every reconcile request for one deal shares it, so BullMQ keeps at most one
 * waiting and one active run per deal (BullMQ's `deduplication.id`).
 */
export const reconcileDedupId = (portalId: string, dealId: string) => `reconcile:${portalId}:${dealId}`;

/**
 * The BullMQ job id of one reconcile *run*. It cannot be the dedup id itself: BullMQ ignores an add whose job id
 * already exists before it looks at deduplication, so a run requested while the previous one is active would
 * be dropped. It still names portal and deal so a job is traceable in Redis and logs.
 * (BullMQ forbids ":" in custom ids.)
 */
export const reconcileJobId = (portalId: string, dealId: string) => `rc-${portalId}-${dealId}-${randomUUID()}`;

/** Escapes ":" (forbidden by BullMQ) reversibly, so distinct timer ids never share a job id. */
const escapeTimerId = (timerId: string) => timerId.replace(/%/g, '%25').replace(/:/g, '%3A');

/**
 * Timer job id: deterministic from (portal, engine timer id), which the engine derives from
 * (deal, stage entry, level), so rescheduling replaces and cancelling finds the job.
 */
export const timerJobId = (portalId: string, timerId: string) => `tm-${portalId}-${escapeTimerId(timerId)}`;

/** Used only while the primary job of the same timer is running (it cannot be replaced mid-flight); "%n" never appears in an escaped id. */
export const timerRetryJobId = (portalId: string, timerId: string) => `${timerJobId(portalId, timerId)}%next`;
