/**
 * Error classes the adapter raises and the classification of what HubSpot (or the network) threw.
 *
 * The worker decides what to do from the class alone: a daily-limit or unavailable error means "try the job
 * later", a request error means "this input will not work as it is". Messages never carry property values:
 * HubSpot echoes submitted values inside its validation messages, and deals here hold patient data.
 */

/** The portal's daily quota is spent; nothing will succeed until HubSpot's midnight reset. */
export class HubSpotDailyLimitError extends Error {
  override readonly name = 'HubSpotDailyLimitError';
  readonly portalId: string;
  readonly operation: string;
  readonly correlationId: string | undefined;
  /** When work for the portal may resume (HubSpot's daily reset, or the next hourly probe). */
  readonly retryAt: number | undefined;

  constructor(o: { portalId: string; operation: string; correlationId?: string; retryAt?: number }) {
    super(`HubSpot daily API limit reached for portal ${o.portalId} (${o.operation})`);
    this.portalId = o.portalId;
    this.operation = o.operation;
    this.correlationId = o.correlationId;
    this.retryAt = o.retryAt;
  }
}

/** 5xx, network failures or a rate-limit storm that outlasted our retries: the same call may work later. */
export class HubSpotUnavailableError extends Error {
  override readonly name = 'HubSpotUnavailableError';
  readonly portalId: string;
  readonly operation: string;
  readonly attempts: number;
  readonly lastFailure: string;
  readonly status: number | undefined;
  /** A write whose outcome is unknown (5xx or a dropped connection after sending): it may have been applied. */
  readonly maybeApplied: boolean;

  constructor(o: {
    portalId: string;
    operation: string;
    attempts: number;
    lastFailure: string;
    status?: number;
    maybeApplied?: boolean;
  }) {
    const maybeApplied = o.maybeApplied ?? false;
    super(
      `HubSpot ${o.operation} for portal ${o.portalId} failed after ${o.attempts} attempt(s): ${o.lastFailure}` +
        (maybeApplied ? ' (outcome unknown)' : ''),
    );
    this.portalId = o.portalId;
    this.operation = o.operation;
    this.attempts = o.attempts;
    this.lastFailure = o.lastFailure;
    this.status = o.status;
    this.maybeApplied = maybeApplied;
  }
}

/** A 4xx other than rate limiting: repeating the same request will get the same answer. */
export class HubSpotRequestError extends Error {
  override readonly name = 'HubSpotRequestError';
  readonly portalId: string;
  readonly operation: string;
  readonly status: number;
  readonly category: string | undefined;
  readonly correlationId: string | undefined;
  /** Sanitised: error codes and property/object names only. */
  readonly detail: string;
  /** Property names HubSpot rejected, when it said which. */
  readonly properties: string[];

  constructor(o: {
    portalId: string;
    operation: string;
    status: number;
    category?: string;
    correlationId?: string;
    detail: string;
    properties?: string[];
  }) {
    super(
      `HubSpot ${o.operation} for portal ${o.portalId} answered ${o.status}${o.category ? ` ${o.category}` : ''}: ${o.detail}`,
    );
    this.portalId = o.portalId;
    this.operation = o.operation;
    this.status = o.status;
    this.category = o.category;
    this.correlationId = o.correlationId;
    this.detail = o.detail;
    this.properties = o.properties ?? [];
  }

  get notFound(): boolean {
    return this.status === 404 || this.category === 'OBJECT_NOT_FOUND';
  }
}

export type Failure =
  | { kind: 'burst'; window: 'ten_secondly' | 'secondly'; correlationId?: string }
  | { kind: 'daily'; correlationId?: string }
  | { kind: 'expired_auth'; correlationId?: string }
  | { kind: 'locked' }
  | { kind: 'server'; status: number; correlationId?: string }
  | { kind: 'network'; code: string }
  /** The client could not parse the response (e.g. a proxy's empty 502): we cannot tell what happened. */
  | { kind: 'unparseable'; status?: number; reason: string }
  | {
      kind: 'request';
      status: number;
      category?: string;
      correlationId?: string;
      detail: string;
      properties: string[];
    }
  | { kind: 'unknown'; error: unknown };

type ErrorBody = {
  status?: unknown;
  message?: unknown;
  category?: unknown;
  subCategory?: unknown;
  correlationId?: unknown;
  policyName?: unknown;
  errorType?: unknown;
  context?: unknown;
  errors?: unknown;
};

const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);

/** The `ApiException` shape of @hubspot/api-client (`code` = HTTP status, `body` = parsed body). */
function apiExceptionParts(err: unknown): { status: number; body: unknown } | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; body?: unknown };
  if (typeof e.code === 'number' && e.code >= 100 && e.code < 600) return { status: e.code, body: e.body };
  return undefined;
}

function networkCode(err: unknown): string | undefined {
  let cur: unknown = err;
  // undici wraps the socket error: TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } }).
  for (let depth = 0; depth < 4 && typeof cur === 'object' && cur !== null; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  if (err instanceof TypeError && err.message === 'fetch failed') return 'FETCH_FAILED';
  if (err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError')) return 'TIMEOUT';
  return undefined;
}

/**
 * Property names HubSpot says it rejected. Validation bodies name them in `errors[].context.propertyName`, or in a
 * JSON list embedded in the message (`Property values were not valid: [{..."name":"x"}]`).
 */
function rejectedProperties(body: ErrorBody): string[] {
  const names = new Set<string>();
  const fromContext = (ctx: unknown) => {
    if (typeof ctx !== 'object' || ctx === null) return;
    for (const key of ['propertyName', 'propertyNames', 'properties']) {
      const v = (ctx as Record<string, unknown>)[key];
      if (Array.isArray(v)) v.forEach((n) => typeof n === 'string' && names.add(n));
      else if (typeof v === 'string') names.add(v);
    }
  };
  fromContext(body.context);
  if (Array.isArray(body.errors))
    body.errors.forEach((e) => fromContext((e as { context?: unknown })?.context));
  for (const item of embeddedJson(str(body.message))) {
    const n = (item as { name?: unknown })?.name;
    if (typeof n === 'string') names.add(n);
  }
  return [...names].filter((n) => /^[a-z0-9_]+$/i.test(n));
}

function embeddedJson(message: string | undefined): unknown[] {
  if (!message) return [];
  const start = message.indexOf('[');
  if (start < 0) return [];
  try {
    const parsed: unknown = JSON.parse(message.slice(start));
    return Array.isArray(parsed) ? parsed : [];
  } catch {
    return [];
  }
}

/**
 * A message safe to log: HubSpot's own text up to the first embedded detail, quoted fragments masked (they are
 * usually the offending values), plus the machine-readable codes and property names.
 */
export function sanitiseDetail(body: ErrorBody, properties: string[]): string {
  const raw = str(body.message) ?? '';
  const cut = raw.search(/[[{]/);
  let text = (cut >= 0 ? raw.slice(0, cut) : raw)
    .replace(/"[^"]*"|'[^']*'|`[^`]*`/g, '"…"')
    .replace(/[:\s]+$/, '');
  if (text.length > 160) text = `${text.slice(0, 160)}…`;
  const codes = new Set<string>();
  if (Array.isArray(body.errors))
    body.errors.forEach((e) => {
      const c = str((e as { code?: unknown })?.code) ?? str((e as { subCategory?: unknown })?.subCategory);
      if (c) codes.add(c);
    });
  for (const item of embeddedJson(str(body.message))) {
    const c = str((item as { error?: unknown })?.error);
    if (c) codes.add(c);
  }
  const sub = str(body.subCategory);
  const parts = [text || 'no message'];
  if (sub) parts.push(`subCategory ${sub}`);
  if (codes.size) parts.push(`codes ${[...codes].join(',')}`);
  if (properties.length) parts.push(`properties ${properties.join(',')}`);
  return parts.join('; ');
}

/** What went wrong, in terms the retry loop acts on. `status` is the HTTP status when the client lost it. */
export function classify(err: unknown, observedStatus?: number): Failure {
  const api = apiExceptionParts(err);
  if (api) {
    const body: ErrorBody = typeof api.body === 'object' && api.body !== null ? (api.body as ErrorBody) : {};
    const correlationId = str(body.correlationId);
    if (api.status === 429) {
      if (body.policyName === 'DAILY') return { kind: 'daily', correlationId };
      // The search bucket's body has no documented policyName; the client library keys on this exact message.
      if (body.message === 'You have reached your secondly limit.' || body.policyName === 'SECONDLY')
        return { kind: 'burst', window: 'secondly', correlationId };
      // TEN_SECONDLY_ROLLING, and any unknown burst policy: waiting a window is the safe reading.
      return { kind: 'burst', window: 'ten_secondly', correlationId };
    }
    if (api.status === 401 && body.category === 'EXPIRED_AUTHENTICATION')
      return { kind: 'expired_auth', correlationId };
    // Write floods lock a record for about 2 s; the request was not applied.
    if (api.status === 423) return { kind: 'locked' };
    if (api.status >= 500) return { kind: 'server', status: api.status, correlationId };
    const properties = rejectedProperties(body);
    return {
      kind: 'request',
      status: api.status,
      category: str(body.category),
      correlationId,
      detail: sanitiseDetail(body, properties),
      properties,
    };
  }
  const net = networkCode(err);
  if (net) return { kind: 'network', code: net };
  // The client throws plain Errors when it cannot parse a body (no content type, HTML from a proxy, cut-off JSON).
  if (
    err instanceof SyntaxError ||
    (err instanceof Error && /Cannot parse content|not supported by ObjectSerializer/.test(err.message))
  ) {
    if (
      observedStatus !== undefined &&
      observedStatus >= 400 &&
      observedStatus < 500 &&
      observedStatus !== 429 &&
      observedStatus !== 423
    )
      return {
        kind: 'request',
        status: observedStatus,
        detail: 'unparseable error body',
        properties: [],
      };
    return { kind: 'unparseable', status: observedStatus, reason: err.name };
  }
  return { kind: 'unknown', error: err };
}

/** The HTTP status of a failure raised by the client or by our wrapper, if any. */
export function statusOf(err: unknown): number | undefined {
  if (err instanceof HubSpotRequestError) return err.status;
  if (err instanceof HubSpotUnavailableError) return err.status;
  return apiExceptionParts(err)?.status;
}
