import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SandboxPortal } from './portal';

export type SandboxServer = {
  url: string;
  port: number;
  /** TCP connections accepted so far: a keep-alive client makes one, not one per call. */
  connections: () => number;
  close: () => Promise<void>;
};

/** HubSpot's edge keeps idle client connections for about a minute; a little more, so the client closes first. */
const KEEP_ALIVE_MS = 65_000;

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Serves the portal over real HTTP on 127.0.0.1; point the client at it with `basePath: server.url`. */
export async function startSandboxServer({
  portal,
  port = 0,
}: {
  portal: SandboxPortal;
  port?: number;
}): Promise<SandboxServer> {
  const server = createServer(async (req, res) => {
    try {
      const headers: Record<string, string | undefined> = {};
      for (const [k, v] of Object.entries(req.headers))
        headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
      const out = await portal.handle({
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        headers,
        body: await readBody(req),
      });
      res.writeHead(out.status, out.headers);
      res.end(out.body);
    } catch (e) {
      res.writeHead(500, { 'Content-Type': 'application/json' });
      res.end(
        JSON.stringify({
          status: 'error',
          message: `sandbox bug: ${(e as Error).message}`,
          category: 'INTERNAL_ERROR',
        }),
      );
    }
  });
  // As HubSpot: a shorter idle timeout (it was 1 s) made undici drop every socket after its response, so each
  // call paid a new TCP connection. close() ends idle sockets itself (closeAllConnections).
  server.keepAliveTimeout = KEEP_ALIVE_MS;
  server.headersTimeout = KEEP_ALIVE_MS + 1_000;
  let accepted = 0;
  server.on('connection', () => accepted++);
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${actual}`,
    port: actual,
    connections: () => accepted,
    close: () =>
      new Promise<void>((resolve, reject) => {
        portal.close();
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
}
