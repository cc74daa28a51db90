import type { Redis } from 'ioredis';
import { z } from 'zod';
import { parseKeyRing, type KeyRing } from '../install/encryption-key';
import { seal, unseal, UnsealError } from '../install/sealed';
import type { Logger } from '../log';
import { corruptRecords } from '../metrics';
import { redisKeys, type Keys } from '../state/keys';
import {
  channelConfigSchema,
  NO_CHANNELS,
  PortalChannels,
  type ChannelConfig,
  type ChannelKind,
} from './channel-config';

const PURPOSE = 'notify-channels';

/** How many failed deliveries in a row make a channel "failing" on the settings page. */
export const FAILING_AFTER = 3;

export const ChannelHealth = z.object({
  state: z.enum(['ok', 'failing']),
  consecutiveFailures: z.number().int().nonnegative(),
  /** The service's answer code (e.g. "channel_not_found", "http_500"), never a body that might echo content. */
  lastError: z.string().nullable(),
  lastFailureAt: z.number().nullable(),
  lastSuccessAt: z.number().nullable(),
});
export type ChannelHealth = z.infer<typeof ChannelHealth>;

export class ChannelConfigError extends Error {
  override readonly name = 'ChannelConfigError';
  constructor(
    message: string,
    readonly issues: { path: (string | number)[]; message: string }[] = [],
  ) {
    super(message);
  }
}

export type ChannelStoreOptions = {
  redis: Redis;
  prefix: string;
  /** TOKEN_ENCRYPTION_KEY (or its parsed ring); without it channels cannot be stored and pages fall back to tasks. */
  keys: string | KeyRing | undefined;
  /** Local fakes in tests listen on http://127.0.0.1. */
  allowHttpLoopback?: boolean;
  log?: Logger;
  clock?: () => number;
};

/**
 * Per-portal channel configuration, sealed like OAuth tokens, plus each channel's delivery health. One sealed
 * document per portal, so the default and the channels it names change together.
 */
export class ChannelStore {
  private readonly ring: KeyRing | undefined;
  private readonly keys: Keys;
  private readonly clock: () => number;

  constructor(private readonly opts: ChannelStoreOptions) {
    this.ring = typeof opts.keys === 'string' ? parseKeyRing(opts.keys) : opts.keys;
    this.keys = redisKeys(opts.prefix);
    this.clock = opts.clock ?? Date.now;
  }

  get canStore(): boolean {
    return this.ring !== undefined;
  }

  /** The portal's channels; none when nothing is stored, no key is configured, or the blob cannot be opened. */
  async get(portalId: string): Promise<PortalChannels> {
    return this.open(portalId, await this.opts.redis.get(this.keys.notifyChannels(portalId)));
  }

  private open(portalId: string, blob: string | null): PortalChannels {
    if (blob === null || !this.ring) return NO_CHANNELS;
    try {
      const parsed = PortalChannels.safeParse(
        JSON.parse(unseal(this.ring, PURPOSE, portalId, blob).toString('utf8')),
      );
      if (parsed.success) return parsed.data;
    } catch (err) {
      if (!(err instanceof UnsealError) && !(err instanceof SyntaxError)) throw err;
    }
    // A page must still reach HubSpot as a task; the settings page shows the portal as having no channel.
    corruptRecords.inc({ kind: 'notify_channels' });
    this.opts.log?.error({ portalId }, 'stored paging channels unreadable; pages fall back to HubSpot tasks');
    return NO_CHANNELS;
  }

  /** Adds or replaces one channel; the first channel of a portal becomes its default. */
  async put(portalId: string, id: string, input: unknown, makeDefault = false): Promise<PortalChannels> {
    const checked = channelConfigSchema(this.opts.allowHttpLoopback ?? false).safeParse(input);
    if (!checked.success)
      throw new ChannelConfigError(
        'The channel settings are not valid.',
        checked.error.issues.map((i) => ({
          path: i.path.map((p) => (typeof p === 'symbol' ? String(p) : p)),
          message: i.message,
        })),
      );
    return this.update(portalId, (doc) => ({
      defaultChannel: makeDefault || doc.defaultChannel === null ? id : doc.defaultChannel,
      channels: { ...doc.channels, [id]: checked.data },
    }));
  }

  async remove(portalId: string, id: string): Promise<PortalChannels> {
    const doc = await this.update(portalId, (d) => {
      const { [id]: _gone, ...channels } = d.channels;
      return { defaultChannel: d.defaultChannel === id ? null : d.defaultChannel, channels };
    });
    await this.opts.redis.hdel(this.keys.notifyHealth(portalId), id);
    return doc;
  }

  async setDefault(portalId: string, id: string | null): Promise<PortalChannels> {
    return this.update(portalId, (d) => {
      if (id !== null && !d.channels[id]) throw new ChannelConfigError(`There is no channel "${id}".`);
      return { ...d, defaultChannel: id };
    });
  }

  private async update(
    portalId: string,
    edit: (doc: PortalChannels) => PortalChannels,
  ): Promise<PortalChannels> {
    if (!this.ring)
      throw new ChannelConfigError(
        'Paging channels need TOKEN_ENCRYPTION_KEY on the service: their secrets are stored encrypted.',
      );
    const key = this.keys.notifyChannels(portalId);
    const ring = this.ring;
    // Optimistic: WATCH the blob so two admins editing at once cannot drop each other's channel. WATCH belongs to a
    // connection (any EXEC on it clears it), so the edit gets a connection of its own; settings writes are rare.
    const conn = this.opts.redis.duplicate({ enableAutoPipelining: false });
    try {
      // Each lost round means another writer committed, so n concurrent writers need at most n attempts.
      for (let attempt = 0; attempt < 10; attempt++) {
        await conn.watch(key);
        const next = edit(this.open(portalId, await conn.get(key)));
        const sealed = seal(ring, PURPOSE, portalId, Buffer.from(JSON.stringify(next), 'utf8'));
        const done = await conn.multi().set(key, sealed).exec();
        if (done) return next;
      }
    } finally {
      await conn.quit().catch(() => conn.disconnect());
    }
    throw new ChannelConfigError('The channels were being changed by someone else; try again.');
  }

  async health(portalId: string): Promise<Record<string, ChannelHealth>> {
    const raw = await this.opts.redis.hgetall(this.keys.notifyHealth(portalId));
    const out: Record<string, ChannelHealth> = {};
    for (const [id, text] of Object.entries(raw)) {
      const parsed = ChannelHealth.safeParse(safeJson(text));
      if (parsed.success) out[id] = parsed.data;
    }
    return out;
  }

  async recordSuccess(portalId: string, id: string): Promise<void> {
    const prev = (await this.health(portalId))[id];
    await this.writeHealth(portalId, id, {
      state: 'ok',
      consecutiveFailures: 0,
      lastError: prev?.lastError ?? null,
      lastFailureAt: prev?.lastFailureAt ?? null,
      lastSuccessAt: this.clock(),
    });
  }

  /** `permanent`: the service refused the channel itself (gone, revoked, bad payload): failing at once. */
  async recordFailure(
    portalId: string,
    id: string,
    code: string,
    permanent: boolean,
  ): Promise<ChannelHealth> {
    const prev = (await this.health(portalId))[id];
    const consecutiveFailures = (prev?.consecutiveFailures ?? 0) + 1;
    const next: ChannelHealth = {
      state: permanent || consecutiveFailures >= FAILING_AFTER ? 'failing' : (prev?.state ?? 'ok'),
      consecutiveFailures,
      lastError: code,
      lastFailureAt: this.clock(),
      lastSuccessAt: prev?.lastSuccessAt ?? null,
    };
    await this.writeHealth(portalId, id, next);
    return next;
  }

  private async writeHealth(portalId: string, id: string, h: ChannelHealth): Promise<void> {
    await this.opts.redis.hset(this.keys.notifyHealth(portalId), id, JSON.stringify(h));
  }
}

export type ResolvedChannel = { id: string; config: ChannelConfig; kind: ChannelKind };

/** The channel a page goes to: the level's own, else the portal's default; undefined when neither is set. */
export function pickChannel(
  doc: PortalChannels,
  requested: string | null,
): ResolvedChannel | { missing: string } | undefined {
  const id = requested ?? doc.defaultChannel;
  if (id === null) return undefined;
  const config = doc.channels[id];
  if (!config) return { missing: id };
  return { id, config, kind: config.kind };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
