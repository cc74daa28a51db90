import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * One registry for the process, served on GET /metrics. Labels are low-cardinality on purpose: no deal ids
 * and no portal ids (a multi-tenant service would otherwise grow a series per customer).
 */
export const registry = new Registry();
// The event-loop lag series sample every 100 ms, not prom-client's default 10: each sample wakes the thread, and
// every thread that loads this module (HTTP and the workers' thread) would wake 100 times a second when idle. On a
// virtual machine a wake costs 40-250 µs of CPU. A stall worth an alert (100 ms and more) still delays a sample.
collectDefaultMetrics({ register: registry, prefix: 'stagekeeper_', eventLoopMonitoringPrecision: 100 });

export const webhookEvents = new Counter({
  name: 'stagekeeper_webhook_events_total',
  help: 'HubSpot webhook events received, by what became of them',
  labelNames: ['outcome'] as const, // accepted (stored for the ingest worker) | ignored | own_write | unrecognised | incomplete (accepted on an assumption) | invalid | rejected_signature | replayed
  registers: [registry],
});

/** What the ingest worker made of accepted deals: a new reconcile run, or absorbed into one already waiting. */
export const ingestDeals = new Counter({
  name: 'stagekeeper_ingest_deals_total',
  help: 'Deals from accepted webhooks passed to the reconcile queue, by outcome',
  labelNames: ['outcome'] as const, // enqueued | coalesced
  registers: [registry],
});

export const webhookRequests = new Counter({
  name: 'stagekeeper_webhook_requests_total',
  help: 'Webhook HTTP requests, by response status',
  labelNames: ['status'] as const,
  registers: [registry],
});

/** Incremented by the HubSpot adapter for every API call it makes. */
export const hubspotCalls = new Counter({
  name: 'stagekeeper_hubspot_calls_total',
  help: 'HubSpot API calls, by operation and outcome',
  labelNames: ['operation', 'outcome'] as const, // outcome: ok | rate_limited | client_error | server_error | network_error
  registers: [registry],
});

export const slaWarnings = new Counter({
  name: 'stagekeeper_sla_warnings_total',
  help: 'SLA warning timers that fired and produced a warning',
  registers: [registry],
});
export const slaBreaches = new Counter({
  name: 'stagekeeper_sla_breaches_total',
  help: 'SLA breach timers that fired and produced a breach',
  registers: [registry],
});
export const slaEscalations = new Counter({
  name: 'stagekeeper_sla_escalations_total',
  help: 'Escalation levels that fired',
  registers: [registry],
});

/** Escalation pages by channel kind (not channel id: ids are per portal) and what became of them. */
export const pages = new Counter({
  name: 'stagekeeper_pages_total',
  help: 'Escalation pages, by channel kind and outcome',
  labelNames: ['channel', 'outcome'] as const, // channel: slack | teams | pagerduty | webhook | none; outcome: sent | retried | failed | resolved | no_channel | deduplicated | stale
  registers: [registry],
});

export const jobDuration = new Histogram({
  name: 'stagekeeper_job_duration_seconds',
  help: 'Worker job duration, by queue and outcome',
  labelNames: ['queue', 'outcome'] as const,
  buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [registry],
});

export const stateConflicts = new Counter({
  name: 'stagekeeper_state_conflicts_total',
  help: 'Optimistic-concurrency conflicts when persisting deal state (the decision is re-run)',
  registers: [registry],
});

export const corruptRecords = new Counter({
  name: 'stagekeeper_corrupt_records_total',
  help: 'Stored records that failed validation and were treated as missing',
  labelNames: ['kind'] as const,
  registers: [registry],
});

type DepthSource = { name: string; getJobCounts(...types: string[]): Promise<Record<string, number>> };
const depthSources = new Set<DepthSource>();

/** Queue depth is read from Redis at scrape time, so it is right even with many worker processes. */
export const queueDepth = new Gauge({
  name: 'stagekeeper_queue_depth',
  help: 'Jobs per queue and state, read at scrape time',
  labelNames: ['queue', 'state'] as const,
  registers: [registry],
  async collect() {
    this.reset();
    for (const q of depthSources) {
      try {
        const counts = await q.getJobCounts('waiting', 'delayed', 'active', 'failed');
        for (const [state, n] of Object.entries(counts)) this.set({ queue: q.name, state }, n);
      } catch {
        // A scrape must not fail because Redis blinked; /readyz reports that.
      }
    }
  },
});

/** Returns a function that stops observing (used on shutdown so a closed queue is not read). */
export function observeQueueDepth(queue: DepthSource): () => void {
  depthSources.add(queue);
  return () => depthSources.delete(queue);
}

/** Times this process found Redis without its seed marker while running (a restart without persistence, a flush). */
export const redisDataLoss = new Counter({
  name: 'stagekeeper_redis_data_loss_total',
  help: 'Redis data losses detected (seed marker gone); enforcement pauses until the service has re-seeded',
  registers: [registry],
});

/** Work for a portal that has no playbook in force: nothing is enforced for it, which someone must fix. */
export const portalWithoutPlaybook = new Counter({
  name: 'stagekeeper_portal_without_playbook_total',
  help: 'Reconcile runs and timer firings skipped because the portal has no playbook in force',
  labelNames: ['work'] as const, // reconcile | timer
  registers: [registry],
});

/** Deals seen with no stored state whose existing Stagekeeper tasks were adopted from HubSpot by their markers. */
export const adoptedTasks = new Counter({
  name: 'stagekeeper_adopted_tasks_total',
  help: 'Existing Stagekeeper tasks mapped back from HubSpot for deals without stored state',
  registers: [registry],
});
