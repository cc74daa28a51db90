import type { Client } from '@hubspot/api-client';
import type { Redis } from 'ioredis';
import { deleteKeysUnder } from './state/delete-prefix';
import { propertyUses, type Playbook, type PropertyKind } from '@stagekeeper/shared';
import type { SandboxPortal, SandboxServer } from '@stagekeeper/test/sandbox/index';

/**
 * The embedded sandbox portal that `npm start` runs against when no HubSpot credentials are configured.
 * It lives in `test/` (it is also the end-to-end suites' HubSpot); loaded lazily so a production start never
 * imports it.
 */
export type Sandbox = {
  portal: SandboxPortal;
  server: SandboxServer;
  portalId: string;
  token: string;
  secret: string;
  close(): Promise<void>;
};

/**
 * Sandbox runs start from an empty portal, so state left by an earlier run (same deal ids, other deals) must go:
 * deletes every key under the sandbox's own prefix, never anything else.
 */
export async function clearSandboxKeys(redis: Redis, prefix: string): Promise<number> {
  if (!prefix.includes('sandbox'))
    throw new Error(`refusing to clear keys under "${prefix}": not a sandbox prefix`);
  return deleteKeysUnder(redis, prefix);
}

export async function startSandbox(opts: {
  playbook: Playbook;
  now?: () => number;
  requestLog?: string;
}): Promise<Sandbox> {
  const { SandboxPortal, startSandboxServer, seedFromPlaybook } =
    await import('@stagekeeper/test/sandbox/index');
  const portal = new SandboxPortal({
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.requestLog ? { requestLog: opts.requestLog } : {}),
  });
  seedFromPlaybook(portal, opts.playbook);
  const server = await startSandboxServer({ portal });
  return {
    portal,
    server,
    portalId: String(portal.portalId),
    token: portal.privateAppToken,
    secret: portal.clientSecret,
    close: () => server.close(),
  };
}

/** The deal properties a playbook names, with the HubSpot type each needs. */
export function criteriaPropertyTypes(playbook: Playbook): Map<string, PropertyKind> {
  const out = new Map<string, PropertyKind>();
  for (const { property, kind } of propertyUses(playbook)) {
    // A property read as a number or date somewhere must be created with that type, not as text.
    if (!out.has(property) || out.get(property) === 'string') out.set(property, kind);
  }
  return out;
}

/**
 * What a portal admin does by hand before installing: create the custom deal properties the playbook's gates
 * read. Done through the API, so the sandbox validates it like HubSpot would. Returns the names created.
 */
export async function createCriteriaProperties(client: Client, playbook: Playbook): Promise<string[]> {
  const existing = new Set((await client.crm.properties.coreApi.getAll('deals')).results.map((p) => p.name));
  const created: string[] = [];
  for (const [name, type] of criteriaPropertyTypes(playbook)) {
    if (existing.has(name)) continue;
    const fieldType = type === 'number' ? 'number' : type === 'datetime' ? 'date' : 'text';
    await client.crm.properties.coreApi.create('deals', {
      name,
      label: name.replace(/_/g, ' ').replace(/^./, (c) => c.toUpperCase()),
      type,
      fieldType,
      groupName: 'dealinformation',
    } as Parameters<typeof client.crm.properties.coreApi.create>[1]);
    created.push(name);
  }
  return created;
}
