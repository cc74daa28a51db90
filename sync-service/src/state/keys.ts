/**
 * Redis key layout. Every key starts with the configured prefix and (except the portal index) the portal id,
 * so one Redis can hold many tenants and a test can clean exactly its own keys.
 */

const SAFE_ID = /^[A-Za-z0-9_.-]{1,100}$/;

/** Ids end up inside key names: anything else (a colon, a glob character) could alias another key. */
export function assertKeyPart(kind: string, value: string): string {
  if (!SAFE_ID.test(value)) throw new Error(`${kind}: expected 1-100 letters, digits, "_", "." or "-"`);
  return value;
}

export type Keys = ReturnType<typeof redisKeys>;

export function redisKeys(prefix: string) {
  const p = (portalId: string) => `${prefix}:${assertKeyPart('portalId', portalId)}`;
  return {
    /** Hash {v: version, s: DealState JSON or "" for none}. */
    dealState: (portalId: string, dealId: string) => `${p(portalId)}:deal:${assertKeyPart('dealId', dealId)}`,
    /** String with a TTL: the job deciding this deal right now (a token), so two jobs never decide it at once. */
    dealLock: (portalId: string, dealId: string) => `${p(portalId)}:lock:${assertKeyPart('dealId', dealId)}`,
    /** Hash rowKey -> history row JSON, one per ISO week (Monday, UTC) of the stage exit. */
    history: (portalId: string, weekStart: string) => `${p(portalId)}:history:${weekStart}`,
    /** Hash visitKey -> exit week (YYYY-MM-DD) of the deal's stage visits: the card reads its rows by it. */
    historyByDeal: (portalId: string, dealId: string) =>
      `${p(portalId)}:history-by-deal:${assertKeyPart('dealId', dealId)}`,
    /** String: set once every week hash of the portal is covered by historyByDeal (history-store.ts). */
    historyIndexed: (portalId: string) => `${p(portalId)}:history-indexed`,
    /** Hash version -> playbook JSON. */
    playbookVersions: (portalId: string) => `${p(portalId)}:playbook:versions`,
    /** String: the current playbook version number. */
    playbookCurrent: (portalId: string) => `${p(portalId)}:playbook:current`,
    /** String counter handing out playbook version numbers. */
    playbookSeq: (portalId: string) => `${p(portalId)}:playbook:seq`,
    /** String: epoch ms up to which the sweep has looked. */
    sweepCursor: (portalId: string) => `${p(portalId)}:sweep:cursor`,
    /** String with a TTL: the HubSpot account's time zone (its daily API quota resets at midnight there). */
    accountTimeZone: (portalId: string) => `${p(portalId)}:account:tz`,
    /** Set of portal ids with a playbook (what the sweep walks). */
    portals: () => `${prefix}:portals`,
    /** Hash roleId -> picks handed out: the round-robin cursor of the assignment policy. */
    roundRobin: (portalId: string) => `${p(portalId)}:routing:rr`,
    /** String: the portal's paging channels, sealed (notify/channel-store.ts). */
    notifyChannels: (portalId: string) => `${p(portalId)}:notify:channels`,
    /** Hash channel id -> delivery health JSON (what the settings page reports). */
    notifyHealth: (portalId: string) => `${p(portalId)}:notify:health`,
    /** Hash page key -> page record JSON: the deal's paging trail (sent, failed, resolved). */
    notifyTrail: (portalId: string, dealId: string) =>
      `${p(portalId)}:notify:trail:${assertKeyPart('dealId', dealId)}`,
    /**
     * String (JSON {seededAt}): written once the service has seeded Redis (playbooks, schedules). Its absence
     * while running means Redis lost its data (a restart without persistence, a flush): see state/data-loss.ts.
     */
    seeded: () => `${prefix}:seeded`,
    /** String with a TTL: a signed request already answered (its signature's hash), refused if seen again. */
    replay: (digest: string) => `${prefix}:replay:${assertKeyPart('digest', digest)}`,
    /** BullMQ's own prefix; its keys live under `${prefix}:bull:<queue>:...`. */
    bullPrefix: () => `${prefix}:bull`,
  };
}
