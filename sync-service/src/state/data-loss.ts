import type { Redis } from 'ioredis';
import type { Logger } from '../log';
import { redisDataLoss } from '../metrics';
import type { Keys } from './keys';

/** Why the service (re-)seeds Redis: its first start on this Redis (or after a loss while it was down), or a loss seen while running. */
export type SeedReason = 'start' | 'data_loss';

export type DataLossGuardOptions = {
  redis: Redis;
  keys: Keys;
  log: Logger;
  clock: () => number;
  /** Puts back what the service writes only at start: playbooks from their source, installs, schedules. */
  reseed: (reason: SeedReason) => Promise<void>;
  /** How often a running service looks for the marker (besides after every reconnect). */
  checkEveryMs?: number;
};

/**
 * Detects Redis data loss and has it repaired. A marker key is written once Redis is seeded; Redis losing its
 * data (restart without persistence, eviction, a flush) loses the marker too. Until the service has re-seeded,
 * `intact` is false: /readyz answers 503, webhooks are refused with 503 (HubSpot redelivers), and a worker that
 * finds no playbook asks `verify()` and fails its job for a retry instead of reporting "nothing to enforce".
 */
export class DataLossGuard {
  private lost = false;
  private closed = false;
  private repairing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private seeded: number | null = null;
  private readonly onReady = () => void this.check();

  constructor(private readonly opts: DataLossGuardOptions) {}

  /** False from the moment a loss is seen until the re-seed is done. */
  get intact(): boolean {
    return !this.lost;
  }

  /** When this Redis's state began (the marker's time); deals created before it may carry tasks it never recorded. */
  get seededAt(): number | null {
    return this.seeded;
  }

  /** Seeds when the marker is missing, then watches for its disappearance. */
  async start(): Promise<void> {
    const marker = await this.read();
    if (marker === null) {
      this.opts.log.warn(
        'Redis has no seed marker (first start on this Redis, or its data was lost while the service was down): seeding',
      );
      await this.opts.reseed('start');
      await this.write();
    } else this.seeded = marker;
    this.timer = setInterval(() => void this.check(), this.opts.checkEveryMs ?? 2_000);
    this.timer.unref();
    this.opts.redis.on('ready', this.onReady);
  }

  /** One EXISTS: true when the marker is there; a missing marker starts the repair. */
  async verify(): Promise<boolean> {
    if (this.lost) return false;
    const ok = (await this.read()) !== null;
    if (!ok) this.detected();
    return ok;
  }

  /** The marker's time read from Redis now; null (and the repair started) when the marker is gone. */
  async currentSeededAt(): Promise<number | null> {
    const at = await this.read();
    if (at === null) this.detected();
    else this.seeded = at;
    return at;
  }

  /** Resolves once no repair is running (tests, and shutdown). */
  async settled(): Promise<void> {
    while (this.repairing) await this.repairing;
  }

  async stop(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.opts.redis.off('ready', this.onReady);
    await this.repairing?.catch(() => undefined);
  }

  private async check(): Promise<void> {
    if (this.closed || this.lost) return;
    try {
      await this.verify();
    } catch {
      // Redis unreachable: that is /readyz's connection check, not a data loss.
    }
  }

  private detected(): void {
    if (this.lost || this.closed) return;
    this.lost = true;
    redisDataLoss.inc();
    this.opts.log.error(
      'Redis lost its data (seed marker gone): webhooks refused with 503 and enforcement paused until re-seeded; ' +
        'OAuth portals lost their tokens with it and must reinstall the app',
    );
    this.repairing = this.repair().finally(() => (this.repairing = undefined));
  }

  private async repair(): Promise<void> {
    for (let attempt = 1; !this.closed; attempt++) {
      try {
        await this.opts.reseed('data_loss');
        await this.write();
        this.lost = false;
        this.opts.log.warn(
          { attempt },
          're-seeded Redis after data loss; enforcement resumed, a full sweep re-reads every deal',
        );
        return;
      } catch (err) {
        this.opts.log.error(
          { attempt, err: err instanceof Error ? { name: err.name, message: err.message } : undefined },
          're-seeding failed; retrying',
        );
        await new Promise((r) => setTimeout(r, Math.min(10_000, 250 * 2 ** attempt)).unref());
      }
    }
  }

  private async read(): Promise<number | null> {
    const raw = await this.opts.redis.get(this.opts.keys.seeded());
    if (raw === null) return null;
    try {
      const at = Number((JSON.parse(raw) as { seededAt?: unknown }).seededAt);
      return Number.isFinite(at) ? at : 0;
    } catch {
      return 0; // present but unreadable: still a marker (nothing was lost), of unknown age
    }
  }

  private async write(): Promise<void> {
    const at = this.opts.clock();
    // NX: another process that re-seeded first keeps its (earlier) time.
    await this.opts.redis.set(this.opts.keys.seeded(), JSON.stringify({ seededAt: at }), 'NX');
    this.seeded = (await this.read()) ?? at;
  }
}

/**
 * At start: a Redis that can lose data silently (no RDB/AOF persistence, or evicting keys under memory
 * pressure) is refused in production and warned about loudly elsewhere. Managed Redis that disables CONFIG
 * cannot be checked; that is said once, not treated as a failure.
 */
export async function checkRedisDurability(
  redis: Redis,
  log: Logger,
  opts: { production: boolean },
): Promise<string[]> {
  let config: { appendonly: string; save: string; policy: string };
  try {
    const get = async (name: string) => {
      const reply = (await redis.config('GET', name)) as string[];
      return reply[1] ?? '';
    };
    config = {
      appendonly: await get('appendonly'),
      save: await get('save'),
      policy: await get('maxmemory-policy'),
    };
  } catch {
    log.warn(
      'could not read the Redis configuration (CONFIG disabled?): persistence and eviction policy unchecked',
    );
    return [];
  }
  const problems: string[] = [];
  if (config.appendonly !== 'yes' && config.save.trim() === '')
    problems.push(
      'Redis has no persistence (appendonly no, save ""): a restart loses every timer, state and token',
    );
  if (config.policy !== 'noeviction')
    problems.push(
      `Redis maxmemory-policy is "${config.policy}", not "noeviction": under memory pressure it deletes queued jobs and state`,
    );
  if (problems.length === 0) return problems;
  if (opts.production) throw new Error(`refusing to start (NODE_ENV=production): ${problems.join('; ')}`);
  for (const p of problems)
    log.warn(
      `!!! ${p}. Stagekeeper detects and repairs a data loss, but history and OAuth installs are lost with it.`,
    );
  return problems;
}
