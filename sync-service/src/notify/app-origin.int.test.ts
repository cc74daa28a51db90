import { randomBytes } from 'node:crypto';
import { onTimer, reconcile, type PageCommand } from '@stagekeeper/shared';
import { fixturePlaybook, HOUR, MON_10, snap } from '@stagekeeper/shared/engine/fixtures';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { startPagingFake, type PagingFake } from '../../../test/fakes/paging/server';
import { silentLogger } from '../log';
import { startService, type Service } from '../service';
import { DealStateStore } from '../state/deal-state-store';
import { redisKeys } from '../state/keys';
import { staticPlaybookSource } from '../state/playbook-store';
import { deletePrefix, MemoryGateway, testConfig, testPrefix, testRedis, waitFor } from '../testing/fakes';
import { ChannelStore } from './channel-store';

// HUBSPOT_APP_ORIGIN reaches the page a lead gets: the service, started from its configuration, links the deal
// on the account's own HubSpot origin (an EU-hosted account's deals live on app-eu1.hubspot.com).

const PORTAL = '7700123';
const DEAL = '4711';
const KEY = randomBytes(32).toString('base64');

let redis: Redis;
let fake: PagingFake;
let prefix: string;
let service: Service | undefined;

beforeAll(async () => {
  redis = testRedis();
  fake = await startPagingFake();
});
beforeEach(() => {
  prefix = testPrefix();
  fake.received.length = 0;
});
afterEach(async () => {
  await service?.close();
  service = undefined;
  await deletePrefix(redis, prefix);
});
afterAll(async () => {
  await fake.close();
  await redis.quit();
});

it('a page sent by the service links the deal on HUBSPOT_APP_ORIGIN', async () => {
  const playbook = fixturePlaybook();
  const now = MON_10 + 2 * HOUR;
  // The deal is in the stage the page is about (a page of a visit that ended is not sent).
  const entered = reconcile({ playbook, state: null, snapshot: snap({ dealId: DEAL }), now: MON_10 }).state!;
  await new DealStateStore(redis, redisKeys(prefix), silentLogger).save(PORTAL, DEAL, 0, entered);
  const entryId = entered.current!.entryId;
  const fired = onTimer({
    playbook,
    state: entered,
    snapshot: snap({ dealId: DEAL }),
    timer: { timerId: `${entryId}:level:0`, kind: 'escalation', level: 0, entryId },
    now,
  });
  const page = fired.commands.find((c): c is PageCommand => c.type === 'page')!;
  // The local fake speaks plain http, which only a store allowing loopback accepts; the service reads it back.
  const setup = new ChannelStore({ redis, prefix, keys: KEY, log: silentLogger, allowHttpLoopback: true });
  await setup.put(
    PORTAL,
    'ops-slack',
    { kind: 'slack', webhookUrl: `${fake.url}/slack/services/T1/B1/EU` },
    true,
  );

  service = await startService({
    config: testConfig(prefix, {
      HUBSPOT_APP_ORIGIN: 'https://app-eu1.hubspot.com/',
      TOKEN_ENCRYPTION_KEY: KEY,
    }),
    gateway: new MemoryGateway(),
    playbookSource: staticPlaybookSource(playbook, [PORTAL]),
    log: silentLogger,
    http: false,
  });
  await service.paging.enqueue(PORTAL, DEAL, { ...page, notBefore: 0 });
  await waitFor(async () => fake.requestsTo('/slack/').length === 1, 20_000, 'the page at the Slack fake');
  const raw = fake.requestsTo('/slack/')[0]!.raw;
  expect(raw).toContain(`https://app-eu1.hubspot.com/contacts/${PORTAL}/record/0-3/${DEAL}`);
  expect(raw).not.toContain('https://app.hubspot.com');
});
