import type { Redis } from 'ioredis';
import type { Keys } from '../state/keys';
import type { PortalCaller } from './call';
import { getJson } from './raw-request';

const WEEK_MS = 7 * 86_400_000;

const isZone = (zone: string) => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
};

/**
 * The HubSpot account's time zone, which decides when its daily API quota resets (midnight there). Learned from
 * HubSpot's account details at provisioning, when quota is left to ask: once the quota is spent, asking would
 * itself be refused.
 */
export class AccountTimeZones {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Pick<Keys, 'accountTimeZone'>,
  ) {}

  async get(portalId: string): Promise<string | undefined> {
    return (await this.redis.get(this.keys.accountTimeZone(portalId))) ?? undefined;
  }

  /** Asks HubSpot and remembers the answer for a week; any failure keeps what was known (it is not essential). */
  async learn(caller: PortalCaller): Promise<string | undefined> {
    try {
      const details = await caller.call('account.details', (c) =>
        getJson<{ timeZone?: unknown }>(c, '/account-info/v3/details'),
      );
      const zone =
        typeof details?.timeZone === 'string' && isZone(details.timeZone) ? details.timeZone : undefined;
      if (zone) await this.redis.set(this.keys.accountTimeZone(caller.portalId), zone, 'PX', WEEK_MS);
      return zone;
    } catch {
      return undefined;
    }
  }
}
