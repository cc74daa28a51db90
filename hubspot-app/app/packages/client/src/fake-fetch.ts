// Test helper for every extension's tests (never imported by an entrypoint, so never bundled).
import type { FetchLike, FetchResponse } from './service.ts';

export type Call = { url: string; method: string; body?: Record<string, unknown> };
type Reply = { status?: number; body: unknown } | Error;
type Handler = (call: Call) => Reply | Promise<Reply>;

/** A hubspot.fetch stand-in that records every call and answers from a handler. */
export function fakeFetch(handler: Handler): FetchLike & { calls: Call[] } {
  const calls: Call[] = [];
  const fn = async (url: string, init?: { method?: string; body?: Record<string, unknown> }) => {
    const call: Call = { url, method: init?.method ?? 'GET', ...(init?.body ? { body: init.body } : {}) };
    calls.push(call);
    const reply = await handler(call);
    if (reply instanceof Error) throw reply;
    const status = reply.status ?? 200;
    const res: FetchResponse = { ok: status >= 200 && status < 300, status, json: async () => reply.body };
    return res;
  };
  return Object.assign(fn, { calls });
}

/** A promise the test resolves when it wants, to observe in-between states. */
export function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Polls a check that does not depend on a re-render (the renderer's waitFor only re-checks on renders). */
export async function eventually(check: () => void, timeoutMs = 1000): Promise<void> {
  const start = Date.now();
  for (;;) {
    try {
      return check();
    } catch (e) {
      if (Date.now() - start > timeoutMs) throw e;
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}
