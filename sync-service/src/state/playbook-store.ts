import { Playbook } from '@stagekeeper/shared';
import type { Redis } from 'ioredis';
import type { Logger } from '../log';
import { corruptRecords } from '../metrics';
import { luaScript } from './lua';
import type { Keys } from './keys';

export type StoredPlaybook = { version: number; playbook: Playbook };

/** What the worker needs: the playbook in force for a portal, and which portals have one (for the sweep). */
export interface PlaybookSource {
  current(portalId: string): Promise<StoredPlaybook | null>;
  portals(): Promise<string[]>;
}

export class PlaybookInvalidError extends Error {
  constructor(readonly issues: { path: (string | number)[]; message: string }[]) {
    super(
      `invalid playbook: ${issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
    );
    this.name = 'PlaybookInvalidError';
  }
}

/** Numbering, storing and switching happen in one step so two concurrent saves get distinct versions. */
const saveScript = luaScript(`
local version = redis.call('INCR', KEYS[1])
redis.call('HSET', KEYS[2], version, ARGV[1])
redis.call('SET', KEYS[3], version)
redis.call('SADD', KEYS[4], ARGV[2])
return version
`);

/**
 * Versioned playbooks per portal. Old versions are kept: a clock started under version N can be explained
 * later, and a bad edit can be rolled back by saving the old one again.
 */
export class PlaybookStore implements PlaybookSource {
  /** Parsed playbooks by portal, reused while the current version is unchanged (parsing is the costly part). */
  private readonly cache = new Map<string, StoredPlaybook>();

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly log: Logger,
  ) {}

  /** Validates and stores a new version; the stored playbook's `version` is the number handed out here. */
  async save(portalId: string, input: unknown): Promise<StoredPlaybook> {
    const parsed = Playbook.safeParse(input);
    if (!parsed.success)
      throw new PlaybookInvalidError(
        parsed.error.issues.map((i) => ({
          path: i.path.map((p) => (typeof p === 'symbol' ? String(p) : p)),
          message: i.message,
        })),
      );
    const version = Number(
      await saveScript(
        this.redis,
        [
          this.keys.playbookSeq(portalId),
          this.keys.playbookVersions(portalId),
          this.keys.playbookCurrent(portalId),
          this.keys.portals(),
        ],
        [JSON.stringify(parsed.data), portalId],
      ),
    );
    const stored = { version, playbook: { ...parsed.data, version } };
    this.cache.set(portalId, stored);
    return stored;
  }

  /**
   * Saves only when the content differs from the current version (the version number itself ignored), so
   * seeding from PLAYBOOK_FILE on every start does not mint a new version per restart.
   */
  async saveIfChanged(portalId: string, input: unknown): Promise<StoredPlaybook & { changed: boolean }> {
    const parsed = Playbook.safeParse(input);
    const current = await this.current(portalId);
    if (parsed.success && current && sameContent(parsed.data, current.playbook))
      return { ...current, changed: false };
    return { ...(await this.save(portalId, input)), changed: true };
  }

  async current(portalId: string): Promise<StoredPlaybook | null> {
    const raw = await this.redis.get(this.keys.playbookCurrent(portalId));
    if (raw === null) return null;
    const version = Number(raw);
    const cached = this.cache.get(portalId);
    if (cached && cached.version === version) return cached;
    const stored = await this.get(portalId, version);
    if (stored) this.cache.set(portalId, stored);
    return stored;
  }

  async get(portalId: string, version: number): Promise<StoredPlaybook | null> {
    const raw = await this.redis.hget(this.keys.playbookVersions(portalId), String(version));
    if (raw === null) return null;
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      return this.corrupt(portalId, version, 'not JSON');
    }
    const parsed = Playbook.safeParse(json);
    if (!parsed.success)
      return this.corrupt(portalId, version, `schema: ${parsed.error.issues.length} issue(s)`);
    return { version, playbook: { ...parsed.data, version } };
  }

  async versions(portalId: string): Promise<number[]> {
    const fields = await this.redis.hkeys(this.keys.playbookVersions(portalId));
    return fields.map(Number).sort((a, b) => a - b);
  }

  async portals(): Promise<string[]> {
    return (await this.redis.smembers(this.keys.portals())).sort();
  }

  private corrupt(portalId: string, version: number, why: string): null {
    corruptRecords.inc({ kind: 'playbook' });
    this.log.error(
      { portalId, playbookVersion: version, why },
      'stored playbook is corrupt; portal runs without one',
    );
    return null;
  }
}

const sameContent = (a: Playbook, b: Playbook) =>
  JSON.stringify({ ...a, version: 0 }) === JSON.stringify({ ...b, version: 0 });

/** A fixed playbook for every listed portal (sandbox, tests, a PLAYBOOK_FILE with a single portal). */
export function staticPlaybookSource(playbook: Playbook, portalIds: string[]): PlaybookSource {
  const stored = { version: playbook.version, playbook };
  return {
    current: async (portalId) => (portalIds.includes(portalId) ? stored : null),
    portals: async () => [...portalIds],
  };
}
