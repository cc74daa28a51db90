/**
 * Test support for the API's Redis-backed tests (not production code): an app with the API mounted the way the
 * service mounts it, a HubSpot signer written from the reference (not from the verifier under test), and a
 * gateway whose deals carry real properties per portal.
 */
import { createHmac } from 'node:crypto';
import type { DealSnapshot } from '@stagekeeper/shared';
import type { Redis } from 'ioredis';
import { createApp } from '../http/app';
import { silentLogger } from '../log';
import { MemoryGateway } from '../testing/fakes';
import { createApiRoutes } from './routes';

export const SECRET = 'test-client-secret';
export const PUBLIC = 'https://stagekeeper.example.com';

// Reference §4 v3: HubSpot signs the URI with exactly these escapes decoded.
const DECODE: Record<string, string> = {
  '%3A': ':',
  '%2F': '/',
  '%3F': '?',
  '%40': '@',
  '%21': '!',
  '%24': '$',
  '%27': "'",
  '%28': '(',
  '%29': ')',
  '%2A': '*',
  '%2C': ',',
  '%3B': ';',
};

export function hubspotSignature(
  secret: string,
  method: string,
  url: string,
  body: string,
  timestamp: string,
): string {
  const uri = url.replace(/%[0-9A-F]{2}/gi, (m) => DECODE[m.toUpperCase()] ?? m);
  return createHmac('sha256', secret).update(`${method}${uri}${body}${timestamp}`, 'utf8').digest('base64');
}

/** The query hubspot.fetch appends (order as observed second-hand; the service must not depend on it). */
export const hubspotQuery = (portalId: string, user = { userId: '77', userEmail: 'rep@clinic.example' }) =>
  new URLSearchParams({ userId: user.userId, userEmail: user.userEmail, appId: '9001', portalId }).toString();

/** Headers for `path` (with its query) as HubSpot would send them to PUBLIC. */
export function signedHeaders(
  method: string,
  path: string,
  body: string,
  timestamp: number,
  secret = SECRET,
) {
  const ts = String(timestamp);
  return {
    'X-HubSpot-Signature-v3': hubspotSignature(secret, method, `${PUBLIC}${path}`, body, ts),
    'X-HubSpot-Request-Timestamp': ts,
    ...(body ? { 'Content-Type': 'application/json' } : {}),
  };
}

/** HubSpot as per-portal deals with full snapshots; every read and write is recorded with its portal. */
export class PortalGateway extends MemoryGateway {
  readonly live = new Map<string, DealSnapshot>();

  put(portalId: string, snapshot: DealSnapshot): void {
    this.live.set(`${portalId}:${snapshot.dealId}`, snapshot);
  }

  override async snapshots(
    portalId: string,
    dealIds: string[],
    properties: string[],
  ): Promise<Map<string, DealSnapshot>> {
    this.snapshotCalls.push({ portalId, dealIds: [...dealIds], properties });
    const out = new Map<string, DealSnapshot>();
    for (const dealId of dealIds)
      out.set(
        dealId,
        this.live.get(`${portalId}:${dealId}`) ?? {
          dealId,
          exists: false,
          pipeline: null,
          stage: null,
          ownerId: null,
          stageEnteredAt: null,
          properties: {},
          tasks: {},
        },
      );
    return out;
  }
}

export function apiApp(opts: {
  redis: Redis;
  prefix: string;
  gateway: PortalGateway;
  now: () => number;
  enqueue?: (p: string, ids: string[]) => Promise<unknown>;
  /** Paging channels: the sealing key, and http://127.0.0.1 fakes allowed. */
  encryptionKey?: string;
}) {
  const api = createApiRoutes({
    redis: opts.redis,
    prefix: opts.prefix,
    gateway: opts.gateway,
    clientSecret: SECRET,
    publicUrl: PUBLIC,
    log: silentLogger,
    clock: opts.now,
    ...(opts.enqueue ? { enqueueReconcile: opts.enqueue } : {}),
    ...(opts.encryptionKey ? { encryptionKey: opts.encryptionKey, allowHttpLoopbackChannels: true } : {}),
  });
  const app = createApp({
    clientSecret: SECRET,
    publicUrl: PUBLIC,
    maxBodyBytes: 1024 * 1024,
    enqueue: async () => undefined,
    readiness: async () => undefined,
    log: silentLogger,
    clock: opts.now,
    routers: [api],
  });
  return { app, activity: api.activity };
}
