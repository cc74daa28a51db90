import type { Redis } from 'ioredis';
import type { Keys } from './keys';

/**
 * The assignment policy's round-robin cursors, one counter per role and portal. The engine picks
 * `members[cursor % n]` from the cursor it is given; the worker advances the cursor once the decision that used
 * it is saved, so a decision retried after a state conflict does not skip a member. Two deals decided at the same
 * moment can read the same cursor and get the same member: round-robin is fair over time, not strict per pick.
 */
export class RoundRobinStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  async cursors(portalId: string): Promise<Record<string, number>> {
    const raw = await this.redis.hgetall(this.keys.roundRobin(portalId));
    return Object.fromEntries(Object.entries(raw).map(([role, n]) => [role, Number(n) || 0]));
  }

  async advance(portalId: string, roles: string[]): Promise<void> {
    if (roles.length === 0) return;
    const key = this.keys.roundRobin(portalId);
    const pipeline = this.redis.pipeline();
    for (const role of roles) pipeline.hincrby(key, role, 1);
    await pipeline.exec();
  }
}
