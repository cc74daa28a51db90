import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SandboxPortal, SandboxServer } from '../../../test/sandbox';
import { createObject } from '../../../test/sandbox/crm';
import { deleteKeysUnder } from '../state/delete-prefix';
import { sandboxCaller, startSandboxPortal } from '../testing/sandbox-portal';
import { HubSpotApiGateway } from './gateway';

// The "fewestOpenTasks" assignment policy's load figures: the real api-client's task search against the sandbox.
const prefix = `sktest-otc-${process.pid}-${Date.now()}`;
let portal: SandboxPortal;
let server: SandboxServer;
let redis: Redis;

beforeAll(async () => {
  ({ portal, server } = await startSandboxPortal({
    rateLimit: { max: 1_000, windowMs: 10_000 },
    owners: [
      { id: '501', email: 'owner501@sandbox.test' },
      { id: '502', email: 'owner502@sandbox.test' },
      { id: '503', email: 'owner503@sandbox.test' },
    ],
  }));
  redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 3 });
});
afterAll(async () => {
  await deleteKeysUnder(redis, prefix);
  await redis.quit();
  await server.close();
});

const task = (ownerId: string, status: string) =>
  createObject(
    portal,
    'tasks',
    {
      properties: {
        hs_timestamp: String(Date.now()),
        hs_task_subject: 'Callback',
        hs_task_status: status,
        hubspot_owner_id: ownerId,
      },
    },
    { changeSource: 'CRM_UI', sourceId: 'userId:1' },
  );

describe('gateway.openTaskCounts', () => {
  it('counts each owner’s tasks that are not completed, one search for all of them', async () => {
    task('501', 'NOT_STARTED');
    task('501', 'IN_PROGRESS');
    task('501', 'COMPLETED');
    task('502', 'WAITING');
    const caller = sandboxCaller(
      { portal, server },
      {
        redis,
        prefix,
        plan: { default: { max: 1_000, windowMs: 10_000 }, search: { max: 5, windowMs: 1_000 } },
        retry: { baseDelayMs: 10, maxDelayMs: 100 },
      },
    );
    const gateway = new HubSpotApiGateway({ caller, redis, prefix });
    const mark = portal.requests.length;
    expect(await gateway.openTaskCounts(String(portal.portalId), ['501', '502', '503'])).toEqual({
      '501': 2,
      '502': 1,
      '503': 0,
    });
    expect(portal.requests.slice(mark).map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
      'POST /crm/v3/objects/tasks/search 200',
    ]);
  });
});
