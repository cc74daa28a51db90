/**
 * The floor of a steady move (cost.ts), in the service's own process (service-child.ts): the bare exchanges every
 * move of a rep needs, with none of Stagekeeper's work around them.
 * - A signed webhook POST: body read raw (express.raw, as http/app.ts), v3 signature checked, JSON parsed, 200.
 * - A HubSpot call: one deal read in a batch through the api-client, on the service's own client factory
 *   (hubspot/client.ts: node:http on a kept-alive agent) against the sandbox portal.
 * Their CPU, less the idle service's, is what the service cannot go under per exchange on this machine.
 */
import type { AddressInfo } from 'node:net';
import express from 'express';
import { paced } from './common';
import { HubSpotClientFactory, StaticTokenProvider } from '@stagekeeper/sync-service/hubspot/client';
import {
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  verifySignatureV3,
} from '@stagekeeper/sync-service/webhooks/signature';

/** A server answering signed webhook POSTs and nothing more; its URL (path included). */
export async function bareWebhookServer(secret: string): Promise<string> {
  const app = express();
  app.post('/webhooks/hubspot', express.raw({ type: () => true, limit: 1024 * 1024 }), (req, res) => {
    const rawBody: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const url = `http://${req.get('host')}${req.originalUrl}`;
    const verdict = verifySignatureV3(secret, {
      method: req.method,
      uri: url,
      rawBody,
      signature: req.get(SIGNATURE_HEADER),
      timestamp: req.get(TIMESTAMP_HEADER),
    });
    if (!verdict.ok) return void res.status(401).json({ error: verdict.reason });
    const events = JSON.parse(rawBody.toString('utf8')) as unknown[];
    res.status(200).json({ accepted: events.length });
  });
  const server = await new Promise<import('node:http').Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  server.unref();
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/hubspot`;
}

/**
 * `n` one-deal batch reads through the api-client, one after another, or one every `gapMs` (as steady traffic
 * spaces them: between two, the thread sleeps and what the next call runs is no longer in the CPU's caches); the
 * CPU they took, ms.
 */
export async function bareHubSpotCalls(
  sandbox: { url: string; portalId: string; token: string },
  dealId: string,
  n: number,
  gapMs = 0,
): Promise<{ cpuMs: number; ms: number }> {
  const factory = new HubSpotClientFactory({
    tokens: new StaticTokenProvider(sandbox.token),
    basePath: sandbox.url,
  });
  const { client } = await factory.forPortal(sandbox.portalId);
  const read = () =>
    client.crm.deals.batchApi.read({
      inputs: [{ id: dealId }],
      properties: ['dealstage', 'pipeline', 'hubspot_owner_id'],
      propertiesWithHistory: [],
    });
  await read(); // the agent's socket opened, the client's code warm: as in a running service
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await paced(n, gapMs > 0 ? 1000 / gapMs : 0, read);
  const cpu = process.cpuUsage(cpu0);
  return { cpuMs: (cpu.user + cpu.system) / 1000, ms: performance.now() - t0 };
}
