import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@hubspot/api-client';
import { SandboxPortal, type SandboxOptions } from './portal';
import { startSandboxServer, type SandboxServer } from './server';

/** A portal served over loopback HTTP plus a real client pointed at it. */
export async function startSandbox(opts: SandboxOptions = {}) {
  const portal = new SandboxPortal(opts);
  const server: SandboxServer = await startSandboxServer({ portal });
  const client = (o: { accessToken?: string; numberOfApiCallRetries?: number } = {}) =>
    new Client({
      accessToken: o.accessToken ?? portal.privateAppToken,
      basePath: server.url,
      numberOfApiCallRetries: o.numberOfApiCallRetries ?? 1,
    });
  return { portal, server, client, close: () => server.close() };
}

/** HubSpot's decoding of the signed URI (platform reference §4), then constant-time compare. */
const DEC: Record<string, string> = {
  '%3A': ':',
  '%2F': '/',
  '%3F': '?',
  '%40': '@',
  '%21': '!',
  '%24': '$',
  '%27': "'",
  '%28': '(',
  '%29': ')',
  '%2A': '*',
  '%2C': ',',
  '%3B': ';',
};
export function verifyV3(
  secret: string,
  method: string,
  uri: string,
  rawBody: string,
  sig?: string,
  ts?: string,
  now = Date.now(),
): boolean {
  if (!sig || !ts || !/^\d+$/.test(ts) || Math.abs(now - Number(ts)) > 300_000) return false;
  const decoded = uri.replace(/%(3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)/gi, (m) => DEC[m.toUpperCase()]!);
  const expected = Buffer.from(
    createHmac('sha256', secret)
      .update(`${method.toUpperCase()}${decoded}${rawBody}${ts}`, 'utf8')
      .digest('base64'),
  );
  const got = Buffer.from(sig);
  return expected.length === got.length && timingSafeEqual(expected, got);
}

export type Received = {
  headers: IncomingHttpHeaders;
  raw: string;
  events: Record<string, unknown>[];
  answered: number;
};

/** A tiny webhook endpoint. `answer` decides the status per request, so tests can fail the first attempt. */
export async function startReceiver(
  answer: (n: number, r: Omit<Received, 'answered'>) => number = () => 204,
) {
  const received: Received[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const r = { headers: req.headers, raw, events: JSON.parse(raw) as Record<string, unknown>[] };
    const status = answer(received.length, r);
    received.push({ ...r, answered: status });
    res.writeHead(status).end();
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hubspot/webhooks`;
  return {
    url,
    received,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

/** Awaits a client call that must fail, and returns HubSpot's status and parsed error body. */
export async function refusal(p: Promise<unknown>): Promise<{ code: number; body: Record<string, unknown> }> {
  try {
    await p;
  } catch (e) {
    const err = e as { code?: number; body?: unknown };
    if (typeof err.code !== 'number') throw e;
    return {
      code: err.code,
      body: (typeof err.body === 'string' ? JSON.parse(err.body) : err.body) as Record<string, unknown>,
    };
  }
  throw new Error('expected the call to be refused, but it succeeded');
}
