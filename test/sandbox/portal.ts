import { appendFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { AssociationStore } from './associations';
import { RateLimiter, TokenStore, type Principal, type RateLimitConfig } from './auth';
import { PropertyCatalog, type ObjectType } from './catalog';
import { ObjectStore, type Change, type Source } from './objects';
import { OwnerStore, type OwnerSeed } from './owners';
import { DEFAULT_PIPELINE, PipelineStore, type PipelineSeed } from './pipelines';
import { prng } from './prng';
import { route, type SandboxRequest, type SandboxResponse } from './router';
import { stageHistoryProperties } from './stages';
import { PortalUi } from './ui';
import { WebhookDispatcher, type WebhookFaults } from './webhooks';

export type ApiFaults = {
  /** Share of API requests answered 500/502/503 before anything is done. */
  http5xxRate: number;
  /** Share of write requests that succeed but whose response is lost (504): the retry-safety test. */
  lostResponseRate: number;
  /** Added to every API response. */
  latencyMs: number;
};
export type Faults = ApiFaults & WebhookFaults;

export type SandboxOptions = {
  portalId?: number;
  appId?: number;
  clientId?: string;
  clientSecret?: string;
  /** A static private-app token the portal accepts; generated when omitted. */
  privateAppToken?: string;
  now?: () => number;
  /** Seed HubSpot's default "Sales Pipeline" (default true, as in a fresh account). */
  defaultPipeline?: boolean;
  /** JSON-lines file every served request is appended to; defaults to $HUBSPOT_REQUEST_LOG. */
  requestLog?: string;
  rateLimit?: Partial<RateLimitConfig>;
  searchRateLimit?: Partial<RateLimitConfig>;
  faults?: Partial<Faults>;
  /** How API writes are attributed in webhook events. UNCERTAIN in the facts: see the README of this folder. */
  apiSource?: Source;
};

export type RequestRecord = {
  method: string;
  path: string;
  url: string;
  status: number;
  body: unknown;
  at: number;
};

/** A fake HubSpot account: all state in memory, reachable over HTTP through `route` and changed by `ui`. */
export class SandboxPortal {
  readonly portalId: number;
  readonly appId: number;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly privateAppToken: string;
  now: () => number;
  readonly catalogs: Record<ObjectType, PropertyCatalog>;
  readonly pipelines: PipelineStore;
  readonly owners: OwnerStore;
  readonly objects: ObjectStore;
  readonly associations = new AssociationStore();
  readonly tokens: TokenStore;
  readonly limits: RateLimiter;
  readonly webhooks: WebhookDispatcher;
  readonly ui: PortalUi;
  readonly requests: RequestRecord[] = [];
  readonly changes: Change[] = [];
  requestLog: string | undefined;
  apiSource: Source;
  faults: Faults = {
    http5xxRate: 0,
    lostResponseRate: 0,
    latencyMs: 0,
    duplicateRate: 0,
    dropRate: 0,
    reorder: false,
    seed: 1,
  };
  /**
   * A batch update naming a deleted object: `multi-status` answers 207 with the rest applied (what was
   * observed); `refuse` answers 404 for the whole batch with nothing applied, as HubSpot may (issue 13).
   */
  batchUpdateMissing: 'multi-status' | 'refuse' = 'multi-status';
  /** The account's time zone (Settings → Account defaults); HubSpot resets the daily API quota at midnight there. */
  timeZone = 'America/New_York';
  /** Whether the private app token was given the sensitive-data scopes (Settings → Private apps → Scopes). */
  privateAppReadsSensitive = true;

  /** OAuth tokens read Sensitive Data values only with `crm.objects.deals.sensitive.read.v2` granted at install. */
  canReadSensitive(principal: Principal | undefined): boolean {
    if (!principal) return false;
    if (principal.kind === 'private') return this.privateAppReadsSensitive;
    return this.tokens.info(principal.token)?.scopes.includes('crm.objects.deals.sensitive.read.v2') ?? false;
  }
  random: () => number = prng(1);
  private idCounter = 0;

  constructor(opts: SandboxOptions = {}) {
    this.portalId = opts.portalId ?? 24_681_357;
    this.appId = opts.appId ?? 3_141_592;
    this.clientId = opts.clientId ?? randomUUID();
    this.clientSecret = opts.clientSecret ?? randomUUID();
    this.privateAppToken = opts.privateAppToken ?? `pat-na1-${randomUUID()}`;
    this.apiSource = opts.apiSource ?? { changeSource: 'API', sourceId: String(this.appId) };
    this.requestLog = opts.requestLog ?? process.env.HUBSPOT_REQUEST_LOG ?? undefined;
    // Indirection so tests can swap `portal.now` after construction and every store follows.
    const now = () => this.now();
    this.now = opts.now ?? Date.now;
    this.catalogs = {
      deals: new PropertyCatalog('deals', now),
      tasks: new PropertyCatalog('tasks', now),
      notes: new PropertyCatalog('notes', now),
    };
    this.pipelines = new PipelineStore(now);
    this.owners = new OwnerStore(now);
    this.tokens = new TokenStore(now, { clientId: this.clientId, clientSecret: this.clientSecret });
    this.tokens.staticTokens.add(this.privateAppToken);
    this.limits = new RateLimiter(now);
    this.setRateLimit(opts.rateLimit ?? {});
    this.setSearchRateLimit(opts.searchRateLimit ?? {});
    this.webhooks = new WebhookDispatcher({
      portalId: this.portalId,
      appId: this.appId,
      clientSecret: this.clientSecret,
      now,
    });
    this.objects = new ObjectStore({
      now,
      portalId: this.portalId,
      catalogs: this.catalogs,
      pipelines: this.pipelines,
      owners: this.owners,
      emit: (c) => {
        this.changes.push(c);
        this.webhooks.onChange(c);
      },
      // Large numeric ids, like HubSpot's, so nothing accidentally works only with small integers.
      nextId: () => String(40_000_000_001 + this.idCounter++),
    });
    this.ui = new PortalUi(this);
    if (opts.defaultPipeline !== false) this.seedPipeline(DEFAULT_PIPELINE);
    if (opts.faults) this.setFaults(opts.faults);
  }

  seedPipeline(seed: PipelineSeed) {
    return this.pipelines.seed(seed, (stageId) => {
      const h = stageHistoryProperties(stageId);
      this.catalogs.deals.addSystemProperty(h.entered, 'datetime', 'dealstages');
      this.catalogs.deals.addSystemProperty(h.exited, 'datetime', 'dealstages');
      this.catalogs.deals.addSystemProperty(h.latest, 'number', 'dealstages');
      this.catalogs.deals.addSystemProperty(h.cumulative, 'number', 'dealstages');
    });
  }

  seedOwner(seed: OwnerSeed) {
    return this.owners.seed(seed);
  }

  /** The private-app burst window (per token). */
  setRateLimit(cfg: Partial<RateLimitConfig>): void {
    this.limits.burst = { ...this.limits.burst, ...cfg };
  }

  /** The OAuth app's burst window (per installing account; 110/10 s by default). */
  setOAuthRateLimit(cfg: Partial<RateLimitConfig>): void {
    this.limits.oauthBurst = { ...this.limits.oauthBurst, ...cfg };
  }

  setSearchRateLimit(cfg: Partial<RateLimitConfig>): void {
    this.limits.search = { ...this.limits.search, ...cfg };
  }

  /** Switches faults on or off; the seed makes a chaos run reproducible. */
  setFaults(f: Partial<Faults>): void {
    this.faults = { ...this.faults, ...f };
    this.random = prng(this.faults.seed);
    this.webhooks.setFaults({
      duplicateRate: this.faults.duplicateRate,
      dropRate: this.faults.dropRate,
      reorder: this.faults.reorder,
      seed: this.faults.seed + 1,
    });
  }

  /** Serves one HTTP request; the node:http server and the msw handlers both call this. */
  async handle(req: SandboxRequest): Promise<SandboxResponse> {
    const res = await route(this, req);
    this.record(req, res.status);
    return res;
  }

  private record(req: SandboxRequest, status: number): void {
    const u = new URL(req.url, 'http://sandbox');
    let body: unknown = req.body === '' ? null : req.body;
    try {
      if (req.body) body = JSON.parse(req.body);
    } catch {
      // form bodies (OAuth) stay as sent, minus the secret so the log can be shared
      body = req.body.replace(/client_secret=[^&]*/, 'client_secret=***');
    }
    this.requests.push({
      method: req.method,
      path: u.pathname,
      url: u.pathname + u.search,
      status,
      body,
      at: this.now(),
    });
    // The status tells a request the sandbox accepted from one it refused on purpose (as HubSpot would).
    if (this.requestLog)
      appendFileSync(
        this.requestLog,
        JSON.stringify({ method: req.method, url: u.pathname + u.search, status, body }) + '\n',
      );
  }

  /** How many requests matched, e.g. `portal.count('PATCH', /\/crm\/v3\/objects\/deals\//)`. */
  count(method: string, path: RegExp | string): number {
    return this.requests.filter(
      (r) => r.method === method && (typeof path === 'string' ? r.path === path : path.test(r.path)),
    ).length;
  }

  close(): void {
    this.webhooks.close();
  }
}
