/**
 * What the service benchmarks start from: a private redis-server (its INFO figures are then the bench's alone), a
 * client on it, a fresh key prefix, and a fresh sandbox portal whose rate limit does not bind; and the service as
 * a process pointed at them (service-proc.ts). Everything is closed again afterwards, the service first.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Sandbox } from '@stagekeeper/sync-service/sandbox-mode';
import { OwnRedis } from '../chaos/redis-server';
import type { BenchPlaybookName } from './playbook';
import { withPortal } from './scene';
import { pointWebhooksAt, startServiceProc, type ServiceProc } from './service-proc';

/** HubSpot's limit (sandbox and service) far above what a bench sends: the work is measured, not the quota. */
export const UNBOUND_PER_10S = 10_000;

/** `playbook`: what the portal and every service process on the rig play (test/bench/playbook.ts). */
export type Rig = {
  sandbox: Sandbox;
  redis: Redis;
  redisUrl: string;
  prefix: string;
  playbook: BenchPlaybookName;
};

export async function withRig<T>(
  name: string,
  fn: (rig: Rig) => Promise<T>,
  playbook: BenchPlaybookName = 'bench',
): Promise<T> {
  const server = await OwnRedis.start({ persist: false });
  const redis = new Redis(server.url);
  const prefix = `skbench-${name}-${randomBytes(3).toString('hex')}`;
  try {
    return await withPortal(async (sandbox) => {
      sandbox.portal.setRateLimit({ max: UNBOUND_PER_10S, windowMs: 10_000 });
      return await fn({ sandbox, redis, redisUrl: server.url, prefix, playbook });
    }, playbook);
  } finally {
    redis.disconnect();
    await server.close();
  }
}

/** One service process (HTTP and workers) on the rig, the portal's webhooks pointed at it; stopped after `fn`. */
export async function withService<T>(rig: Rig, fn: (svc: ServiceProc) => Promise<T>): Promise<T> {
  const svc = await startServiceProc({
    sandbox: rig.sandbox,
    prefix: rig.prefix,
    redisUrl: rig.redisUrl,
    ratePer10s: UNBOUND_PER_10S,
    playbook: rig.playbook,
  });
  try {
    pointWebhooksAt(rig.sandbox, svc.url!, rig.playbook);
    return await fn(svc);
  } finally {
    await svc.stop();
  }
}
