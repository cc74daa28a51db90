import type { Client } from '@hubspot/api-client';

/**
 * A GET the generated client has no method (or no field) for, through the client's own transport. Non-2xx
 * answers throw in the shape of the client's ApiException (`code`, `body`), so HubSpotCaller's retry and error
 * classes apply as to any other call.
 */
export async function getJson<T>(client: Client, path: string): Promise<T> {
  const res = await client.apiRequest({ method: 'GET', path });
  const body: unknown = await res.json().catch(() => undefined);
  if (!res.ok)
    throw Object.assign(new Error(`GET ${path.split('?')[0]} answered ${res.status}`), {
      code: res.status,
      body,
    });
  return body as T;
}
