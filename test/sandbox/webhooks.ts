import { createHmac } from 'node:crypto';
import type { Change } from './objects';
import { prng, shuffle } from './prng';

export const DEAL_EVENT_TYPES = [
  'deal.creation',
  'deal.deletion',
  'deal.propertyChange',
  'deal.merge',
  'deal.restore',
] as const;
export type DealEventType = (typeof DEAL_EVENT_TYPES)[number];
export type Subscription = { id: number; eventType: DealEventType; propertyName?: string; active: boolean };

/**
 * How deliveries name their type. An app on platform 2026.03 subscribes through `crmObjects` and receives the
 * generic `object.*` shape with `objectTypeId` ("0-3" for deals); `legacy` is the older `deal.*` shape
 * (`legacyCrmObjects` subscriptions, pre-2024 apps). Facts §4 and HubSpot's 2024 changelog "generic webhook
 * subscriptions".
 */
export type WebhookFormat = 'object' | 'legacy';
export const DEAL_OBJECT_TYPE_ID = '0-3';

/** One notification as HubSpot serialises it (facts §4); optional fields appear only for their event types. */
export type WebhookEvent = {
  eventId: number;
  subscriptionId: number;
  portalId: number;
  appId: number;
  occurredAt: number;
  subscriptionType: DealEventType | `object.${Change['kind']}`;
  /** `object.*` deliveries only. */
  objectTypeId?: string;
  attemptNumber: number;
  objectId: number;
  changeSource: string;
  sourceId: string;
  changeFlag?: 'CREATED';
  propertyName?: string;
  propertyValue?: string;
  primaryObjectId?: number;
  mergedObjectIds?: number[];
  newObjectId?: number;
  numberOfPropertiesMoved?: number;
};

export type WebhookFaults = { duplicateRate: number; dropRate: number; reorder: boolean; seed: number };

export type DeliveryRecord = {
  attemptNumber: number;
  eventIds: number[];
  status?: number;
  error?: string;
  at: number;
};

export type WebhookOptions = {
  targetUrl?: string;
  /** Events that happen within this window share one POST. */
  batchWindowMs: number;
  maxBatchSize: number;
  /** HubSpot retries up to 10 times over 24 h; tests scale the delays down. */
  maxRetries: number;
  retryDelayMs: (attempt: number) => number;
  /** HubSpot gives up on a request after 5 s and retries it. */
  timeoutMs: number;
  maxConcurrentRequests: number;
  /** `object` (default) as a 2026.03 project app receives; `legacy` for the `deal.*` shape. */
  format: WebhookFormat;
};

type Identity = { portalId: number; appId: number; clientSecret: string; now: () => number };

/** v3 signature (facts §4): base64 HMAC-SHA256 keyed by the client secret over method + uri + body + timestamp. */
export function signV3(
  clientSecret: string,
  method: string,
  uri: string,
  body: string,
  timestamp: number,
): string {
  return createHmac('sha256', clientSecret)
    .update(`${method}${uri}${body}${timestamp}`, 'utf8')
    .digest('base64');
}

const KIND_TO_TYPE: Record<Change['kind'], DealEventType> = {
  creation: 'deal.creation',
  deletion: 'deal.deletion',
  propertyChange: 'deal.propertyChange',
  merge: 'deal.merge',
  restore: 'deal.restore',
};

/**
 * Turns portal changes into signed HubSpot webhook deliveries. Work is tracked so `drain()` can tell tests
 * when every batch, retry, duplicate and delayed (reordered) delivery has finished.
 */
export class WebhookDispatcher {
  options: WebhookOptions = {
    batchWindowMs: 50,
    maxBatchSize: 100,
    maxRetries: 10,
    retryDelayMs: (attempt) => 20 * attempt,
    timeoutMs: 5_000,
    maxConcurrentRequests: 10,
    format: 'object',
  };
  subscriptions: Subscription[] = [];
  readonly deliveries: DeliveryRecord[] = [];
  readonly dropped: WebhookEvent[] = [];
  readonly failed: WebhookEvent[][] = [];
  private faults: WebhookFaults = { duplicateRate: 0, dropRate: 0, reorder: false, seed: 1 };
  private random = prng(1);
  private pending: WebhookEvent[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private outstanding = 0;
  private inFlight = 0;
  private readonly waitingToSend: (() => void)[] = [];
  private idle: (() => void)[] = [];
  private nextEventId = 1_000_000 + Math.floor(Math.random() * 1_000_000);
  private nextSubscriptionId = 100;
  private closed = false;

  constructor(private readonly id: Identity) {}

  configure(
    opts: Partial<WebhookOptions> & { subscriptions?: { eventType: DealEventType; propertyName?: string }[] },
  ): this {
    const { subscriptions, ...rest } = opts;
    this.options = { ...this.options, ...rest };
    subscriptions?.forEach((s) => this.subscribe(s.eventType, s.propertyName));
    return this;
  }

  /** Unlike HubSpot (new subscriptions start paused), sandbox subscriptions start active: tests want events. */
  subscribe(eventType: DealEventType, propertyName?: string): Subscription {
    if (!DEAL_EVENT_TYPES.includes(eventType)) throw new Error(`unknown eventType ${eventType}`);
    if (eventType === 'deal.propertyChange' && !propertyName)
      throw new Error('deal.propertyChange needs a propertyName');
    if (propertyName === 'hs_lastmodifieddate')
      throw new Error('HubSpot does not allow subscribing to hs_lastmodifieddate');
    const sub: Subscription = {
      id: this.nextSubscriptionId++,
      eventType,
      ...(propertyName ? { propertyName } : {}),
      active: true,
    };
    this.subscriptions.push(sub);
    return sub;
  }

  setFaults(f: Partial<WebhookFaults>): void {
    this.faults = { ...this.faults, ...f };
    this.random = prng(this.faults.seed);
  }

  /** Called by the portal for every change; only deal changes matching an active subscription become events. */
  onChange(c: Change): void {
    if (this.closed || c.objectType !== 'deals' || !this.options.targetUrl) return;
    const type = KIND_TO_TYPE[c.kind];
    for (const sub of this.subscriptions) {
      if (!sub.active || sub.eventType !== type) continue;
      if (c.kind === 'propertyChange' && sub.propertyName !== c.propertyName) continue;
      const generic = this.options.format === 'object';
      const event: WebhookEvent = {
        eventId: this.nextEventId++,
        subscriptionId: sub.id,
        portalId: this.id.portalId,
        appId: this.id.appId,
        occurredAt: c.occurredAt,
        subscriptionType: generic ? `object.${c.kind}` : type,
        ...(generic ? { objectTypeId: DEAL_OBJECT_TYPE_ID } : {}),
        attemptNumber: 0,
        objectId: Number(c.objectId),
        changeSource: c.source.changeSource,
        sourceId: c.source.sourceId,
      };
      if (c.kind === 'creation') event.changeFlag = 'CREATED';
      if (c.kind === 'propertyChange')
        Object.assign(event, { propertyName: c.propertyName, propertyValue: c.propertyValue });
      if (c.kind === 'merge')
        Object.assign(event, {
          primaryObjectId: Number(c.primaryObjectId),
          mergedObjectIds: c.mergedObjectIds.map(Number),
          newObjectId: Number(c.newObjectId),
          numberOfPropertiesMoved: c.numberOfPropertiesMoved,
        });
      this.enqueue(event);
    }
  }

  private enqueue(event: WebhookEvent): void {
    this.pending.push(event);
    if (!this.flushTimer) {
      this.outstanding++;
      this.flushTimer = setTimeout(() => {
        this.flushTimer = undefined;
        this.flush();
        this.done();
      }, this.options.batchWindowMs);
    }
  }

  private flush(): void {
    let events = this.pending;
    this.pending = [];
    const duplicates: WebhookEvent[] = [];
    events = events.filter((e) => {
      if (this.random() < this.faults.dropRate) {
        this.dropped.push(e);
        return false;
      }
      if (this.random() < this.faults.duplicateRate) duplicates.push({ ...e });
      return true;
    });
    if (this.faults.reorder) events = shuffle(events, this.random);
    const batches: WebhookEvent[][] = [];
    for (let i = 0; i < events.length; i += this.options.maxBatchSize)
      batches.push(events.slice(i, i + this.options.maxBatchSize));
    // A duplicate arrives as its own later request, the way HubSpot re-sends a notification it thinks was lost.
    if (duplicates.length) batches.push(duplicates);
    for (const batch of batches) {
      const jitter = this.faults.reorder ? Math.floor(this.random() * this.options.batchWindowMs * 2) : 0;
      this.schedule(() => this.send(batch, 0), jitter);
    }
  }

  private schedule(fn: () => Promise<void>, delayMs: number): void {
    this.outstanding++;
    setTimeout(() => {
      fn().finally(() => this.done());
    }, delayMs);
  }

  private async send(batch: WebhookEvent[], attemptNumber: number): Promise<void> {
    if (this.closed || !this.options.targetUrl) return;
    while (this.inFlight >= this.options.maxConcurrentRequests)
      await new Promise<void>((r) => this.waitingToSend.push(r));
    this.inFlight++;
    const events = batch.map((e) => ({ ...e, attemptNumber }));
    const body = JSON.stringify(events);
    const timestamp = this.id.now();
    const uri = this.options.targetUrl;
    const record: DeliveryRecord = { attemptNumber, eventIds: events.map((e) => e.eventId), at: timestamp };
    this.deliveries.push(record);
    let ok = false;
    try {
      const res = await fetch(uri, {
        method: 'POST',
        body,
        headers: {
          'Content-Type': 'application/json',
          'X-HubSpot-Signature-v3': signV3(this.id.clientSecret, 'POST', uri, body, timestamp),
          'X-HubSpot-Request-Timestamp': String(timestamp),
          'User-Agent': 'HubSpot Connect 2.0 (http://dev.hubspot.com/) (namespace: webhooks-nonsecure)',
        },
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      await res.arrayBuffer().catch(() => undefined);
      record.status = res.status;
      ok = res.status >= 200 && res.status < 300;
    } catch (e) {
      record.error = e instanceof Error ? e.name + ': ' + e.message : String(e);
    } finally {
      this.inFlight--;
      this.waitingToSend.shift()?.();
    }
    if (ok) return;
    // Current docs: any failure (connection, >5 s timeout, 4xx or 5xx) is retried, up to 10 times.
    if (attemptNumber < this.options.maxRetries)
      this.schedule(() => this.send(batch, attemptNumber + 1), this.options.retryDelayMs(attemptNumber + 1));
    else this.failed.push(events);
  }

  private done(): void {
    this.outstanding--;
    if (this.outstanding === 0 && this.pending.length === 0) {
      const waiters = this.idle;
      this.idle = [];
      waiters.forEach((w) => w());
    }
  }

  /** Resolves once nothing is buffered, in flight or scheduled for retry. Flushes the open batch at once. */
  async drain(): Promise<void> {
    if (this.flushTimer) {
      clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
      this.flush();
      this.done();
    }
    if (this.outstanding === 0 && this.pending.length === 0) return;
    await new Promise<void>((r) => this.idle.push(r));
    // New changes may have been made by the receiver while we waited (it may write back): drain again.
    if (this.outstanding > 0 || this.pending.length > 0 || this.flushTimer) return this.drain();
  }

  close(): void {
    this.closed = true;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.pending = [];
  }
}
