// One client for the card, settings and app pages: each imports @stagekeeper/app-client/service, and HubSpot's
// build bundles this workspace package into every extension (docs/hubspot-app.md, "Layout").

/** The part of a fetch Response the client reads; hubspot.fetch and test stubs both satisfy it. */
export type FetchResponse = { ok: boolean; status: number; json(): Promise<unknown> };
export type FetchLike = (
  url: string,
  init?: { method?: 'GET' | 'POST' | 'PUT' | 'DELETE'; body?: Record<string, unknown>; timeout?: number },
) => Promise<FetchResponse>;

/** A field-level problem reported by the service; `path` is the zod path inside the request body. */
export type Issue = { path: (string | number)[]; message: string };

export class ServiceError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly issues: Issue[] = [],
  ) {
    super(message);
    this.name = 'ServiceError';
  }
}

type ErrorBody = { error?: { code?: unknown; message?: unknown; issues?: unknown } };

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

function toServiceError(status: number, body: unknown): ServiceError {
  const err = isRecord(body) ? (body as ErrorBody).error : undefined;
  const code = typeof err?.code === 'string' ? err.code : `http_${status}`;
  const message =
    typeof err?.message === 'string' ? err.message : `The Stagekeeper service answered ${status}`;
  const issues = Array.isArray(err?.issues)
    ? err.issues.filter(
        (i): i is Issue => isRecord(i) && Array.isArray(i.path) && typeof i.message === 'string',
      )
    : [];
  return new ServiceError(status, code, message, issues);
}

/**
 * HubSpot's fetch proxy turns a 3xx-5xx from the service into HTTP 200 carrying
 * {status:'error', category:'BAD_GATEWAY', responseBody, context.appServerStatusCode}
 * (mirrored by the local dev proxy). Unwrap it so callers see the service's own status and body.
 */
function unwrapProxyError(body: unknown): { status: number; body: unknown } | null {
  if (!isRecord(body) || body.status !== 'error' || typeof body.category !== 'string') return null;
  const ctx = isRecord(body.context) ? body.context : {};
  const raw = Array.isArray(ctx.appServerStatusCode) ? ctx.appServerStatusCode[0] : undefined;
  const status = Number(raw ?? 502);
  return { status: Number.isFinite(status) ? status : 502, body: body.responseBody };
}

async function readJson(res: FetchResponse): Promise<unknown> {
  try {
    return await res.json();
  } catch {
    return undefined;
  }
}

export type ServiceClient = {
  get<T>(path: string, query?: Record<string, string | undefined>): Promise<T>;
  post<T>(path: string, body: Record<string, unknown>): Promise<T>;
  put<T>(path: string, body: Record<string, unknown>): Promise<T>;
  /** hubspot.fetch supports DELETE (FetchHttpMethod in @hubspot/ui-extensions); no body is sent. */
  delete<T>(path: string): Promise<T>;
};

/**
 * portalId/userId are not sent by us: HubSpot appends them to the URL and signs the request, and the
 * service trusts only those signed values.
 */
export function createServiceClient(baseUrl: string, fetchImpl: FetchLike): ServiceClient {
  const call = async <T>(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    path: string,
    body?: Record<string, unknown>,
  ) => {
    let res: FetchResponse;
    try {
      res = await fetchImpl(`${baseUrl}${path}`, body ? { method, body } : { method });
    } catch (e) {
      throw new ServiceError(0, 'network', e instanceof Error ? e.message : 'Could not reach Stagekeeper');
    }
    const json = await readJson(res);
    if (!res.ok) throw toServiceError(res.status, json);
    const wrapped = unwrapProxyError(json);
    if (wrapped) throw toServiceError(wrapped.status, wrapped.body);
    return json as T;
  };
  return {
    get: (path, query) => {
      const params = Object.entries(query ?? {}).filter((e): e is [string, string] => e[1] !== undefined);
      const qs = params.length ? `?${new URLSearchParams(params).toString()}` : '';
      return call('GET', `${path}${qs}`);
    },
    post: (path, body) => call('POST', path, body),
    put: (path, body) => call('PUT', path, body),
    delete: (path) => call('DELETE', path),
  };
}
