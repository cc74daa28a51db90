/**
 * Test-only helpers for the sync service's Redis-backed tests: isolated key prefixes, an in-memory HubSpot
 * gateway and a scripted engine. Nothing here is imported by production code.
 */
import { deleteKeysUnder } from '../state/delete-prefix';
import { createHmac, randomBytes } from 'node:crypto';
import type {
  Command,
  DealSnapshot,
  DealState,
  EngineResult,
  Playbook,
  TimerFiring,
} from '@stagekeeper/shared';
import { Redis } from 'ioredis';
import { loadConfig, type Config } from '../config';
import type { HubSpotGateway } from '../ports';
import type { Engine } from '../decide';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A prefix no other test run shares; every key a test creates lives under it. */
export const testPrefix = () => `sktest-${randomBytes(5).toString('hex')}`;

export const testRedis = () => new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });

/** Deletes exactly the keys under this test's prefix (SCAN, never FLUSHDB). */
export async function deletePrefix(redis: Redis, prefix: string): Promise<void> {
  await deleteKeysUnder(redis, prefix);
}

/** The app client secret `testConfig` gives the service: what signs a test's webhooks and card reads. */
export const TEST_CLIENT_SECRET = 'test-secret';

/**
 * A webhook request of `events` to the service at `url`, signed (v3) now as HubSpot signs it; each call of the
 * returned function sends that same request (as HubSpot's retry, or a replay, would).
 */
export function signedWebhook(url: string, events: unknown[]): () => Promise<Response> {
  const body = JSON.stringify(events);
  const ts = String(Date.now());
  const uri = `${url}/webhooks/hubspot`;
  const signature = createHmac('sha256', TEST_CLIENT_SECRET)
    .update(`POST${uri}${body}${ts}`)
    .digest('base64');
  return () =>
    fetch(uri, {
      method: 'POST',
      body,
      headers: {
        'content-type': 'application/json',
        'x-hubspot-signature-v3': signature,
        'x-hubspot-request-timestamp': ts,
      },
    });
}

export function testConfig(prefix: string, env: Record<string, string> = {}): Config {
  return loadConfig({
    SANDBOX: 'true',
    HUBSPOT_CLIENT_SECRET: TEST_CLIENT_SECRET,
    REDIS_URL,
    KEY_PREFIX: prefix,
    PORT: '0',
    RECONCILE_DEBOUNCE_MS: '50',
    LOG_LEVEL: 'silent',
    ...env,
  });
}

export const waitFor = async (
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5_000,
  what = 'condition',
): Promise<void> => {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------------------

type FakeDeal = {
  stage: string;
  modifiedAt: number;
  exists: boolean;
  mergedInto?: string;
  merged?: string[];
};

/** HubSpot as a map of deals; records every call so tests can assert what the worker asked for. */
export class MemoryGateway implements HubSpotGateway {
  readonly deals = new Map<string, FakeDeal>();
  readonly applied: { portalId: string; dealId: string; commands: Command[] }[] = [];
  readonly snapshotCalls: { portalId: string; dealIds: string[]; properties: string[] }[] = [];
  /** Runs inside `snapshots` before answering: tests use it to hold a job active or inject a concurrent write. */
  onSnapshot: ((dealIds: string[]) => Promise<void> | void) | undefined;
  omitFromSnapshots = new Set<string>();

  setDeal(dealId: string, stage: string, modifiedAt = Date.now()): void {
    this.deals.set(dealId, { stage, modifiedAt, exists: true });
  }

  /** HubSpot's merge: `mergedId` is gone (resolving to the survivor), the survivor lists it as merged in. */
  merge(survivorId: string, mergedId: string): void {
    const survivor = this.deals.get(survivorId)!;
    survivor.merged = [...(survivor.merged ?? []), mergedId];
    this.deals.set(mergedId, { ...this.deals.get(mergedId)!, exists: false, mergedInto: survivorId });
  }

  async snapshots(
    portalId: string,
    dealIds: string[],
    properties: string[],
  ): Promise<Map<string, DealSnapshot>> {
    this.snapshotCalls.push({ portalId, dealIds: [...dealIds], properties });
    await this.onSnapshot?.(dealIds);
    const out = new Map<string, DealSnapshot>();
    for (const dealId of dealIds) {
      if (this.omitFromSnapshots.has(dealId)) continue;
      const d = this.deals.get(dealId);
      out.set(dealId, {
        dealId,
        exists: d?.exists ?? false,
        ...(d?.mergedInto ? { mergedInto: d.mergedInto } : {}),
        pipeline: d ? 'default' : null,
        stage: d?.stage ?? null,
        ownerId: null,
        stageEnteredAt: d ? 1 : null,
        properties:
          d?.merged && properties.includes('hs_merged_object_ids')
            ? { hs_merged_object_ids: d.merged.join(';') }
            : {},
        tasks: {},
      });
    }
    return out;
  }

  /** The fake has no tasks, so nothing is ever left unread. */
  async readUnreadTasks(_portalId: string, snapshot: DealSnapshot): Promise<DealSnapshot> {
    return snapshot;
  }

  async apply(portalId: string, dealId: string, commands: Command[]): Promise<void> {
    this.applied.push({ portalId, dealId, commands });
  }

  readonly goneDealsCalls: string[][] = [];

  async goneDeals(_portalId: string, dealIds: string[]): Promise<string[]> {
    this.goneDealsCalls.push([...dealIds]);
    return dealIds.filter((id) => !this.deals.get(id)?.exists);
  }

  async modifiedSince(_portalId: string, sinceMs: number): Promise<{ dealIds: string[]; newestMs: number }> {
    const hits = [...this.deals.entries()].filter(([, d]) => d.modifiedAt >= sinceMs);
    return { dealIds: hits.map(([id]) => id), newestMs: Math.max(0, ...hits.map(([, d]) => d.modifiedAt)) };
  }
}

export function blankState(dealId: string, runs = 0): DealState {
  return {
    dealId,
    playbookVersion: 1,
    current: null,
    lastOwnerId: null,
    // The scripted engine counts its runs here: a visible, schema-valid number.
    breachCount: runs,
    backflowCount: 0,
    gate: { status: 'clear', missing: [], blockedFrom: null, blockedTo: null, pendingStage: null, at: null },
    closedReason: null,
  };
}

export type EngineCall = {
  kind: 'reconcile' | 'timer';
  dealId: string;
  stage: string | null;
  runsBefore: number;
  timer?: TimerFiring;
};

/**
 * Stands in for the real engine: counts runs in the state and emits whatever commands the test scripts,
 * so worker tests check orchestration (order, persistence, retries) rather than business rules.
 */
export class ScriptedEngine implements Engine {
  readonly calls: EngineCall[] = [];
  commands: (call: EngineCall) => Command[] = () => [];

  reconcile = ({ state, snapshot }: { state: DealState | null; snapshot: DealSnapshot }): EngineResult =>
    this.run('reconcile', state, snapshot);

  onTimer = ({
    state,
    snapshot,
    timer,
  }: {
    state: DealState | null;
    snapshot: DealSnapshot;
    timer: TimerFiring;
  }): EngineResult => this.run('timer', state, snapshot, timer);

  requiredProperties = (_p: Playbook): string[] => ['dealstage', 'pipeline'];

  private run(
    kind: EngineCall['kind'],
    state: DealState | null,
    snapshot: DealSnapshot,
    timer?: TimerFiring,
  ): EngineResult {
    const runsBefore = state?.breachCount ?? 0;
    const call: EngineCall = {
      kind,
      dealId: snapshot.dealId,
      stage: snapshot.stage,
      runsBefore,
      ...(timer ? { timer } : {}),
    };
    this.calls.push(call);
    return {
      state: blankState(snapshot.dealId, runsBefore + 1),
      commands: this.commands(call),
      decisions: [{ rule: `fake.${kind}`, detail: '' }],
    };
  }
}

/** Smallest playbook the schema accepts; worker tests never read its rules (the engine is scripted). */
export const MINIMAL_PLAYBOOK_INPUT = {
  schemaVersion: 1,
  name: 'test',
  calendars: [{ id: 'cal', timeZone: 'UTC', hours: '24/7' }],
  roles: [{ id: 'intake', name: 'Intake', owners: ['1'], lead: '1' }],
  pipelines: [
    { id: 'default', label: 'Default', stages: [{ id: 'new', label: 'New', ownerRole: 'intake' }] },
  ],
};
