import { describe, expect, it } from 'vitest';
import { createServiceClient, ServiceError } from './service.ts';
import { fakeFetch } from './fake-fetch.ts';

// One test file covers the three identical copies (project.test.ts keeps them identical).
const BASE = 'https://svc.example.com';

describe('service client', () => {
  it('builds the URL from the base, path and defined query values only', async () => {
    const fetch = fakeFetch(() => ({ body: { ok: 1 } }));
    const client = createServiceClient(BASE, fetch);
    await expect(client.get('/api/scorecard', { week: '2026-W47', other: undefined })).resolves.toEqual({
      ok: 1,
    });
    await client.get('/api/scorecard', { week: undefined });
    expect(fetch.calls.map((c) => c.url)).toEqual([
      `${BASE}/api/scorecard?week=2026-W47`,
      `${BASE}/api/scorecard`,
    ]);
  });

  it('turns a network failure into a ServiceError the UI can show', async () => {
    const client = createServiceClient(
      BASE,
      fakeFetch(() => new Error('socket hang up')),
    );
    await expect(client.post('/x', { a: 1 })).rejects.toMatchObject({
      status: 0,
      code: 'network',
      message: 'socket hang up',
    });
  });

  it('keeps a generic message when an error body is not ours', async () => {
    const client = createServiceClient(
      BASE,
      fakeFetch(() => ({ status: 500, body: '<html>oops</html>' })),
    );
    const err = await client.get('/x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceError);
    expect(err).toMatchObject({
      status: 500,
      code: 'http_500',
      message: 'The Stagekeeper service answered 500',
      issues: [],
    });
  });

  it("unwraps HubSpot's BAD_GATEWAY envelope into the service's own status and error", async () => {
    const envelope = {
      status: 'error',
      category: 'BAD_GATEWAY',
      responseBody: { error: { code: 'no_breach', message: 'Not breached' } },
      context: { appServerStatusCode: ['409'] },
    };
    const client = createServiceClient(
      BASE,
      fakeFetch(() => ({ status: 200, body: envelope })),
    );
    await expect(client.put('/x', {})).rejects.toMatchObject({
      status: 409,
      code: 'no_breach',
      message: 'Not breached',
    });
  });

  it('drops malformed issues instead of crashing the page', async () => {
    const body = {
      error: {
        code: 'invalid_playbook',
        message: 'bad',
        issues: [{ path: ['a', 0], message: 'm' }, { path: 'a.0' }, null],
      },
    };
    const client = createServiceClient(
      BASE,
      fakeFetch(() => ({ status: 400, body })),
    );
    await expect(client.put('/x', {})).rejects.toMatchObject({ issues: [{ path: ['a', 0], message: 'm' }] });
  });
});
