/**
 * Redis key layout: the one module that spells a key. Every key starts with the configured prefix and (except
 * the portal index, the seeded marker, replay claims, the timer and reconcile due sets and BullMQ's prefix) the
 * portal id, so one Redis can hold many tenants and a test can clean exactly its own keys. Stored data depends on these shapes: change one and
 * existing installs lose what is under the old name.
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
  const dealStates = (portalId: string) => `${p(portalId)}:deal:`;
  return {
    /**
     * String `<version>:<DealState, deflated>`, or `<version>:` for none (state/deal-state-codec.ts); states saved
     * before are a hash {v: version, s: state} until their next save. No TTL while it holds a state; a tombstone
     * expires after 30 days (state/deal-state-store.ts).
     */
    dealState: (portalId: string, dealId: string) =>
      `${dealStates(portalId)}${assertKeyPart('dealId', dealId)}`,
    /** What every dealState key of the portal starts with: SCAN `${this}*` finds the portal's deals. */
    dealStatePrefix: (portalId: string) => dealStates(portalId),
    /**
     * Set of the portal's deal ids with a stored state (the state save adds an id, its tombstone removes it), so
     * finding the portal's deals costs its deals, not a SCAN of every key. Holds the member ":complete" once a
     * walk of the dealState keys has added the ids saved before the set existed (state/deal-state-store.ts);
     * without it readers scan. No TTL.
     */
    trackedDeals: (portalId: string) => `${p(portalId)}:deals`,
    /**
     * String, TTL 30 s unless set otherwise (state/deal-lock.ts): the job deciding this deal right now (a token),
     * so two jobs never decide it at once.
     */
    dealLock: (portalId: string, dealId: string) => `${p(portalId)}:lock:${assertKeyPart('dealId', dealId)}`,
    /** Hash rowKey -> history row JSON, one per ISO week (Monday, UTC) of the stage exit. */
    history: (portalId: string, weekStart: string) => `${p(portalId)}:history:${weekStart}`,
    /**
     * Hash visitKey -> where the row of each of the deal's stage visits is: `week:chunk:offset:length` in the
     * week's packed chunks, or a bare exit week (YYYY-MM-DD) for a row of the older week hash. TTL 400 days.
     */
    historyByDeal: (portalId: string, dealId: string) =>
      `${p(portalId)}:history-by-deal:${assertKeyPart('dealId', dealId)}`,
    /**
     * Hash {head: number of the chunk rows are appended to, rewrites: rows superseded so far, exits:{n}: chunk n's
     * least exit, greatest exit and the length they account for} of the UTC week's packed rows (history-store.ts).
     * Written with the week's first row (its first exit span). TTL 400 days.
     */
    historyLog: (portalId: string, weekStart: string) => `${p(portalId)}:history-log:${weekStart}`,
    /**
     * String: rows of the week packed one after another (history-row-codec.ts), chunk 0, 1, ... each up to about
     * 512 KB. The append script derives these names from historyLog's as `${historyLog}:${n}` (and, within one run
     * only, `${chunk}:copy` while it copies a chunk to trim its allocation). TTL 400 days.
     */
    historyChunk: (portalId: string, weekStart: string, n: number) =>
      `${p(portalId)}:history-log:${weekStart}:${n}`,
    /**
     * String: a sealed chunk's rows as columns (history-columns.ts), for the scorecard; built when the chunk fills,
     * deleted by the append script when it overwrites a row of the chunk (`${chunk}:cols` there). Same TTL as the
     * chunk.
     */
    historyColumns: (portalId: string, weekStart: string, n: number) =>
      `${p(portalId)}:history-log:${weekStart}:${n}:cols`,
    /** String: set once every week hash of the portal is covered by historyByDeal (history-store.ts). */
    historyIndexed: (portalId: string) => `${p(portalId)}:history-indexed`,
    /** Hash version -> playbook JSON. No TTL. */
    playbookVersions: (portalId: string) => `${p(portalId)}:playbook:versions`,
    /** String: the current playbook version number. No TTL. */
    playbookCurrent: (portalId: string) => `${p(portalId)}:playbook:current`,
    /** String counter handing out playbook version numbers. No TTL. */
    playbookSeq: (portalId: string) => `${p(portalId)}:playbook:seq`,
    /** String: epoch ms up to which the sweep has looked. No TTL (deleted at uninstall). */
    sweepCursor: (portalId: string) => `${p(portalId)}:sweep:cursor`,
    /**
     * String: the SSCAN cursor of the sweep's audit of tracked deals (queue/tracked-deal-audit.ts) over
     * trackedDeals. No TTL (deleted at uninstall).
     */
    sweepAuditCursor: (portalId: string) => `${p(portalId)}:sweep:audit`,
    /** String, TTL a week: the HubSpot account's time zone (its daily API quota resets at midnight there). */
    accountTimeZone: (portalId: string) => `${p(portalId)}:account:tz`,
    /** Set of portal ids with a playbook (what the sweep walks). No TTL. */
    portals: () => `${prefix}:portals`,
    /** Hash roleId -> picks handed out: the round-robin cursor of the assignment policy. No TTL. */
    roundRobin: (portalId: string) => `${p(portalId)}:routing:rr`,
    /** String: the portal's paging channels, sealed (notify/channel-store.ts). No TTL. */
    notifyChannels: (portalId: string) => `${p(portalId)}:notify:channels`,
    /** Hash channel id -> delivery health JSON (what the settings page reports). No TTL. */
    notifyHealth: (portalId: string) => `${p(portalId)}:notify:health`,
    /** Hash page key -> page record JSON: the deal's paging trail (sent, failed, resolved). TTL 180 days. */
    notifyTrail: (portalId: string, dealId: string) =>
      `${p(portalId)}:notify:trail:${assertKeyPart('dealId', dealId)}`,
    /**
     * String (JSON {seededAt}): written once the service has seeded Redis (playbooks, schedules). Its absence
     * while running means Redis lost its data (a restart without persistence, a flush): see state/data-loss.ts.
     * No TTL.
     */
    seeded: () => `${prefix}:seeded`,
    /**
     * String, epoch ms (Redis' clock): when the rate limiter first found this Redis without it, i.e. when Redis
     * started empty or lost its data. A rate window missing within a window after it may have been lost, not
     * idle (hubspot/limiter.ts). No TTL.
     */
    rateEpoch: () => `${prefix}:rl:epoch`,
    /**
     * String, TTL twice the accepted signature age (http/replay-store.ts): a signed request already answered
     * (its signature's hash), refused if seen again.
     */
    replay: (digest: string) => `${prefix}:replay:${assertKeyPart('digest', digest)}`,
    /**
     * Sorted set, every portal's pending SLA timers (queue/timers.ts): member `${portalId}|${engine timer id}`,
     * score the fire time (epoch ms, an integer), or the lease of the process firing it (a time ending in .5,
     * queue/timer-poller.ts). No TTL: a member leaves when its timer fires, is cancelled or gives up.
     */
    timersDue: () => `${prefix}:timers:due`,
    /**
     * Hash timersDue member -> compact JSON, only for the rare timers whose firing cannot be derived from the
     * timer id ({d, k, e, l}) and for those whose firing failed ({a: attempts so far}). Absent when none is.
     */
    timersMeta: () => `${prefix}:timers:meta`,
    /**
     * Sorted set, every portal's pending reconcile requests (queue/reconcile.ts): member `${portalId}|${dealId}`,
     * score when the run is due (epoch ms on the wall clock, an integer: the request's debounce, or a retry's
     * backoff), or the lease of the process running it (a time ending in .5, queue/due-poller.ts). No TTL: a
     * member leaves when its run ends (or gives up).
     */
    reconcileDue: () => `${prefix}:reconcile:due`,
    /** Hash reconcileDue member -> `{"a": failed attempts}` JSON, only for runs being retried. Absent when none is. */
    reconcileMeta: () => `${prefix}:reconcile:meta`,
    /**
     * List of the reconcile runs given up (JSON {portalId, dealId, at, attempts, why}), newest first, trimmed to
     * the newest 10,000: what BullMQ's failed set of reconcile jobs was to operators. No TTL.
     */
    reconcileFailed: () => `${prefix}:reconcile:failed`,
    /** BullMQ's own prefix; its keys live under `${prefix}:bull:<queue>:...`. */
    bullPrefix: () => `${prefix}:bull`,
    /** SCAN pattern matching every key above (BullMQ's included): what a sandbox reset or a test deletes. */
    everyKey: () => `${prefix}:*`,

    // Install (install/registry.ts, install/token-store.ts).
    /** String: the encrypted OAuth token blob (install/token-store.ts). No TTL (deleted at uninstall). */
    oauthTokens: (portalId: string) => `${p(portalId)}:oauth:tokens`,
    /**
     * Hash {install: JSON, provisioning: JSON}; separate fields so install and provisioning never overwrite each
     * other. No TTL.
     */
    install: (portalId: string) => `${p(portalId)}:install`,
    /** Set of HubSpot user ids allowed to change the playbook and uninstall. No TTL (deleted at uninstall). */
    admins: (portalId: string) => `${p(portalId)}:admins`,

    // HubSpot adapter (hubspot/limiter.ts, hubspot/objectmap.ts).
    /**
     * String, a MessagePack map, TTL two windows and a minute: the bucket's whole rate window (its calls, the
     * card calls among them, the callers waiting), read and written once per acquire by one script
     * (hubspot/limiter.ts). Named apart from the sorted set it replaced, which older processes still expect.
     */
    rateWindow: (portalId: string, bucket: string) => `${p(portalId)}:rl:${bucket}:w`,
    /** String, the epoch ms (Redis' clock) until which HubSpot asked us to back off; TTL the same. */
    rateBlock: (portalId: string, bucket: string) => `${p(portalId)}:rl:${bucket}:block`,
    /** String "max:windowMs", TTL a day: the bucket's limit as HubSpot's headers last reported it. */
    rateLearned: (portalId: string, bucket: string) => `${p(portalId)}:rl:${bucket}:learned`,
    /** String, the epoch ms (Redis' clock) the portal's daily quota resets; every bucket waits for it. TTL the same. */
    rateDaily: (portalId: string) => `${p(portalId)}:rl:daily`,
    /** Hash engine key -> task id and state (hubspot/objectmap.ts): the tasks created for a deal. No TTL. */
    taskMap: (portalId: string, dealId: string) =>
      `${p(portalId)}:taskmap:${assertKeyPart('dealId', dealId)}`,
    /** Hash engine key -> note id and state (hubspot/objectmap.ts): the notes created for a deal. No TTL. */
    noteMap: (portalId: string, dealId: string) =>
      `${p(portalId)}:notemap:${assertKeyPart('dealId', dealId)}`,

    // Settings and card API (state/reason-audit-store.ts, playbook-meta-store.ts, portal-activity-store.ts).
    /** List of reason-audit JSON entries, newest first, trimmed to the newest 5,000. No TTL. */
    reasonAudit: (portalId: string) => `${p(portalId)}:api:reason-audit`,
    /** Hash playbook version -> {updatedAt, updatedBy} JSON: who saved each version. No TTL. */
    playbookMeta: (portalId: string) => `${p(portalId)}:api:playbook-meta`,
    /** String, TTL 10 s: the token of the playbook save in progress, so two saves never both win. */
    playbookSaveLock: (portalId: string) => `${p(portalId)}:api:playbook-lock`,
    /** Hash {lastWebhookAt, lastSweepAt} (epoch ms): when the portal was last heard from and swept. No TTL. */
    portalActivity: (portalId: string) => `${p(portalId)}:api:activity`,
  };
}
