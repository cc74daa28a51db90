import { z } from 'zod';
import { HubSpotRequestError, HubSpotUnavailableError } from './hubspot/errors';
import { keyRingProblem } from './install/encryption-key';
import { DEFAULT_HUBSPOT_APP_ORIGIN, HubSpotAppOrigin } from './notify/app-origin';

/**
 * Service configuration from the environment. Every problem is reported at once, one line per variable, so an
 * operator fixes a deployment in one pass instead of one restart per typo.
 */

const flag = z
  .string()
  .trim()
  .toLowerCase()
  .refine(
    (v) => ['1', '0', 'true', 'false', 'yes', 'no', 'on', 'off', ''].includes(v),
    'expected true or false',
  )
  .transform((v) => ['1', 'true', 'yes', 'on'].includes(v));

const int = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, 'expected a whole number')
    .transform(Number)
    .refine((n) => n >= min && n <= max, `expected a number from ${min} to ${max}`);

const UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 * 1024 };
/** Body size like express's ("1mb", "512kb", "2048"), parsed here so the limit is checked at startup. */
const byteSize = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^\d+(b|kb|mb)?$/, 'expected a size like "1mb", "512kb" or a number of bytes')
  .transform((v) => {
    const m = /^(\d+)(b|kb|mb)?$/.exec(v)!;
    return Number(m[1]) * UNITS[m[2] ?? 'b']!;
  })
  .refine((n) => n >= 1024 && n <= 50 * 1024 * 1024, 'expected between 1kb and 50mb');

const url = z
  .string()
  .trim()
  .refine((v) => {
    try {
      return ['http:', 'https:'].includes(new URL(v).protocol);
    } catch {
      return false;
    }
  }, 'expected an http(s) URL');

/** Where Redis keys go unless KEY_PREFIX says otherwise; sandbox runs (`npm start` without credentials) use their own. */
export const DEFAULT_KEY_PREFIX = 'sk';
export const SANDBOX_KEY_PREFIX = 'sk-sandbox';

const EnvSchema = z.object({
  PORT: int(0, 65535).default(3000),
  /**
   * Public origin (plus any path prefix a proxy strips) HubSpot calls. Signatures cover the full URL HubSpot
   * used, which the service cannot see behind a TLS-terminating proxy.
   */
  PUBLIC_URL: url.transform((v) => v.replace(/\/+$/, '')).optional(),
  REDIS_URL: z
    .string()
    .trim()
    .regex(/^rediss?:\/\//, 'expected a redis:// or rediss:// URL')
    .default('redis://127.0.0.1:6379'),
  HUBSPOT_CLIENT_SECRET: z.string().trim().min(1).optional(),
  HUBSPOT_ACCESS_TOKEN: z.string().trim().min(1).optional(),
  HUBSPOT_CLIENT_ID: z.string().trim().min(1).optional(),
  HUBSPOT_PORTAL_ID: z.string().trim().regex(/^\d+$/, 'expected a HubSpot portal id (digits)').optional(),
  /** OAuth tokens are encrypted at rest with it; comma-separated keys rotate (see install/encryption-key.ts). */
  TOKEN_ENCRYPTION_KEY: z
    .string()
    .trim()
    .superRefine((v, ctx) => {
      const problem = keyRingProblem(v);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .optional(),
  PLAYBOOK_FILE: z.string().trim().min(1).optional(),
  KEY_PREFIX: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9_-]{1,32}$/, 'expected 1-32 letters, digits, "_" or "-"')
    .default(DEFAULT_KEY_PREFIX),
  WEBHOOK_MAX_BODY: byteSize.default(1024 * 1024),
  SWEEP_INTERVAL_MS: int(1_000, 24 * 3600_000).default(5 * 60_000),
  // Open tracked deals each sweep checks against HubSpot for deletions whose webhooks were lost (0: none); a
  // call per 100 (queue/tracked-deal-audit.ts).
  SWEEP_AUDIT_DEALS: int(0, 100_000).default(1_000),
  /** Unset: 110 for an OAuth app (per installing account), 190 for a Professional/Enterprise private app. */
  RATE_LIMIT_PER_10S: int(1, 10_000).optional(),
  // A deal's run waits one to two of these windows (queue/reconcile.ts reconcileDueAt): bursts for a deal
  // coalesce, and deals changed in one window share HubSpot batch calls.
  RECONCILE_DEBOUNCE_MS: int(0, 60_000).default(250),
  // Jobs mostly wait on HubSpot; enough of them at once lets deals share batch calls (hubspot/coalesce.ts).
  WORKER_CONCURRENCY: int(1, 2_000).default(500),
  /**
   * What this process runs: `all` (HTTP and workers), `web` (webhooks, cards, settings) or `worker` (queues, SLA
   * timers, sweeps). Split, a card read never waits on an event loop busy with a bulk move's jobs.
   */
  SERVICE_ROLE: z.enum(['all', 'web', 'worker']).default('all'),
  /**
   * SERVICE_ROLE=all: run the workers in a worker thread of the process, so HTTP keeps an event loop of its own
   * (worker-thread.ts). false: one thread for both.
   */
  WORKER_THREAD: flag.default(true),
  /** How long a start waits for a Redis that does not answer yet (it may be restarting) before giving up. */
  REDIS_WAIT_SECONDS: int(0, 3_600).default(60),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Where deal links in pages point: https://app-eu1.hubspot.com for EU-hosted accounts. */
  HUBSPOT_APP_ORIGIN: HubSpotAppOrigin.default(DEFAULT_HUBSPOT_APP_ORIGIN),
  /** Run against the embedded sandbox portal: HubSpot credentials are not needed. */
  SANDBOX: flag.default(false),
  /**
   * HubSpot user ids allowed to change the playbook or uninstall, for static-token and sandbox portals (OAuth
   * portals keep the installing user as their admin). Comma-separated.
   */
  ADMIN_USER_IDS: z
    .string()
    .trim()
    .regex(/^\d{1,20}(\s*,\s*\d{1,20})*$/, 'expected HubSpot user ids (digits), comma-separated')
    .transform((v) => v.split(',').map((s) => s.trim()))
    .optional(),
  /** /metrics answers only with `Authorization: Bearer <token>`; unset, /metrics is not served on the main port. */
  METRICS_TOKEN: z.string().trim().min(16, 'expected at least 16 characters').optional(),
  /** production: a Redis that can lose data (no persistence, evicting keys) is refused at start instead of warned about. */
  NODE_ENV: z.string().trim().optional(),
});

type Env = z.output<typeof EnvSchema>;

const toConfig = (e: Env) => ({
  port: e.PORT,
  publicUrl: e.PUBLIC_URL,
  redisUrl: e.REDIS_URL,
  redisWaitMs: e.REDIS_WAIT_SECONDS * 1_000,
  sandbox: e.SANDBOX,
  hubspot: {
    clientSecret: e.HUBSPOT_CLIENT_SECRET,
    accessToken: e.HUBSPOT_ACCESS_TOKEN,
    clientId: e.HUBSPOT_CLIENT_ID,
    portalId: e.HUBSPOT_PORTAL_ID,
    tokenEncryptionKey: e.TOKEN_ENCRYPTION_KEY,
    rateLimitPer10s: e.RATE_LIMIT_PER_10S ?? (e.HUBSPOT_CLIENT_ID && !e.HUBSPOT_ACCESS_TOKEN ? 110 : 190),
  },
  playbookFile: e.PLAYBOOK_FILE,
  keyPrefix: e.KEY_PREFIX,
  webhookMaxBodyBytes: e.WEBHOOK_MAX_BODY,
  sweepIntervalMs: e.SWEEP_INTERVAL_MS,
  sweepAuditDeals: e.SWEEP_AUDIT_DEALS,
  reconcileDebounceMs: e.RECONCILE_DEBOUNCE_MS,
  workerConcurrency: e.WORKER_CONCURRENCY,
  role: e.SERVICE_ROLE,
  workerThread: e.WORKER_THREAD,
  logLevel: e.LOG_LEVEL,
  hubspotAppOrigin: e.HUBSPOT_APP_ORIGIN,
  adminUserIds: e.ADMIN_USER_IDS ?? [],
  metricsToken: e.METRICS_TOKEN,
  production: e.NODE_ENV === 'production',
});

export const ConfigSchema = EnvSchema.transform(toConfig);
export type Config = z.output<typeof ConfigSchema>;

export class ConfigError extends Error {
  constructor(readonly lines: string[]) {
    // One problem, one line; several, one line each under a heading.
    super(
      lines.length === 1
        ? `invalid configuration: ${lines[0]}`
        : `invalid configuration:\n${lines.map((l) => `  ${l}`).join('\n')}`,
    );
    this.name = 'ConfigError';
  }
}

/**
 * A start-up failure the operator fixes outside the code (Redis down, port taken): printed as one line naming the
 * variable and the fix, without a stack trace.
 */
export class StartupError extends Error {
  override readonly name = 'StartupError';
}

/** host:port of a Redis URL; the URL itself may carry a password. */
export function redisHostPort(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '6379'}`;
  } catch {
    return 'REDIS_URL';
  }
}

/** The start-up error for a failure whose cause is known, or undefined (then the stack is worth printing). */
export function startupProblem(err: unknown, config: { port: number }): StartupError | undefined {
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'EADDRINUSE')
    return new StartupError(
      `PORT ${config.port} is already in use: stop the process listening there, or set PORT to a free port (PORT=0 picks one)`,
    );
  if (e?.code === 'EACCES' && /listen/.test(e.message))
    return new StartupError(`PORT ${config.port} needs privileges to listen on: set PORT to 1024 or above`);
  // A static-token portal is provisioned at start: the first HubSpot call is where a wrong token shows.
  if (err instanceof HubSpotRequestError && err.status === 401)
    return new StartupError(
      `HUBSPOT_ACCESS_TOKEN: HubSpot refused it for portal ${err.portalId} (401): paste the private app's current access token, and check HUBSPOT_PORTAL_ID`,
    );
  if (err instanceof HubSpotRequestError && err.status === 403)
    return new StartupError(
      `HUBSPOT_ACCESS_TOKEN: the private app lacks a scope for ${err.operation} (403): give it the scopes in docs/hubspot-app.md §2`,
    );
  if (err instanceof HubSpotUnavailableError)
    return new StartupError(
      `HubSpot did not answer at start-up (${err.operation}: ${err.lastFailure}): check the network to api.hubapi.com, then start again`,
    );
  return undefined;
}

/** Rules that tie variables together; each returns the problem lines it finds. */
function crossChecks(env: Env): string[] {
  const lines: string[] = [];
  if (env.SANDBOX) {
    // The embedded portal lives in the process: workers in another process could not reach it.
    if (env.SERVICE_ROLE !== 'all')
      lines.push('SERVICE_ROLE: must be all in sandbox mode (the embedded portal lives in this one process)');
    return lines;
  }
  if (!env.HUBSPOT_CLIENT_SECRET)
    lines.push(
      'HUBSPOT_CLIENT_SECRET: required when SANDBOX is off (webhook signatures are checked with it)',
    );
  if (!env.HUBSPOT_ACCESS_TOKEN && !env.HUBSPOT_CLIENT_ID)
    lines.push('HUBSPOT_ACCESS_TOKEN: required when SANDBOX is off and HUBSPOT_CLIENT_ID (OAuth) is not set');
  if (env.HUBSPOT_ACCESS_TOKEN && !env.HUBSPOT_PORTAL_ID)
    lines.push(
      'HUBSPOT_PORTAL_ID: required when HUBSPOT_ACCESS_TOKEN is set (a static token belongs to one portal)',
    );
  if (!env.PUBLIC_URL)
    lines.push(
      'PUBLIC_URL: required when SANDBOX is off (the https origin HubSpot calls: webhook and card signatures cover that URL, which the service cannot see behind a proxy)',
    );
  return lines;
}

/** Empty strings count as unset: `FOO=` in an env file should fall back to the default, not fail. */
function withoutEmpty(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).filter((e): e is [string, string] => typeof e[1] === 'string' && e[1] !== ''),
  );
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = EnvSchema.safeParse(withoutEmpty(env));
  if (!parsed.success) {
    // Values are never echoed: a secret pasted into the wrong variable must not end up in logs.
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`));
  }
  const problems = crossChecks(parsed.data);
  if (problems.length > 0) throw new ConfigError(problems);
  return toConfig(parsed.data);
}
