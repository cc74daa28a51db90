import { ApiException } from '@hubspot/api-client/lib/codegen/crm/deals/apis/exception';
import { describe, expect, it } from 'vitest';
import { classify } from './errors';

// Bodies as HubSpot sends them (hubspot-api-facts §1), thrown the way @hubspot/api-client throws them.
const apiError = (status: number, body: unknown) => new ApiException(status, 'An error occurred.', body, {});

describe('classify', () => {
  it('burst 429 (TEN_SECONDLY_ROLLING) waits and retries', () => {
    const f = classify(
      apiError(429, {
        status: 'error',
        message: 'You have reached your ten_secondly_rolling limit.',
        errorType: 'RATE_LIMIT',
        correlationId: 'c033cdaa-2c40-4a64-ae48-b4cec88dad24',
        policyName: 'TEN_SECONDLY_ROLLING',
        groupName: 'publicapi:private_app-api-calls-ten-secondly:3141592:24681357',
      }),
    );
    expect(f).toEqual({
      kind: 'burst',
      window: 'ten_secondly',
      correlationId: 'c033cdaa-2c40-4a64-ae48-b4cec88dad24',
    });
  });

  it('search 429 is recognised by its message, not a policy name', () => {
    const f = classify(
      apiError(429, {
        status: 'error',
        message: 'You have reached your secondly limit.',
        errorType: 'RATE_LIMIT',
        correlationId: 'x',
      }),
    );
    expect(f).toMatchObject({ kind: 'burst', window: 'secondly' });
  });

  it('daily 429 is distinct', () => {
    const f = classify(
      apiError(429, {
        status: 'error',
        message: 'You have reached your daily limit.',
        errorType: 'RATE_LIMIT',
        correlationId: 'c033cdaa-2c40-4a64-ae48-b4cec88dad24',
        policyName: 'DAILY',
        requestId: '3d3e35b7-0dae-4b9f-a6e3-9c230cbcf8dd',
      }),
    );
    expect(f.kind).toBe('daily');
  });

  it('expired OAuth token', () => {
    const f = classify(
      apiError(401, {
        status: 'error',
        message: 'The OAuth token used to make this call expired 2 minute(s) ago.',
        correlationId: 'c',
        category: 'EXPIRED_AUTHENTICATION',
      }),
    );
    expect(f.kind).toBe('expired_auth');
  });

  it('an invalid token is a request error, not a refresh trigger', () => {
    const f = classify(
      apiError(401, {
        status: 'error',
        message: 'Authentication credentials not found.',
        correlationId: 'c',
        category: 'INVALID_AUTHENTICATION',
      }),
    );
    expect(f).toMatchObject({ kind: 'request', status: 401, category: 'INVALID_AUTHENTICATION' });
  });

  it('validation errors keep codes and property names but drop the submitted value', () => {
    const message =
      'Property values were not valid: [{"isValid":false,"message":"Jane Doe was not one of the allowed options: [label: \\"Running\\"\\nvalue: \\"running\\"]","error":"INVALID_OPTION","name":"stagekeeper_sla_status","localizedErrorMessage":"Jane Doe was not one of the allowed options"}]';
    const f = classify(
      apiError(400, { status: 'error', message, correlationId: '9e1b', category: 'VALIDATION_ERROR' }),
    );
    expect(f).toMatchObject({
      kind: 'request',
      status: 400,
      category: 'VALIDATION_ERROR',
      correlationId: '9e1b',
      properties: ['stagekeeper_sla_status'],
    });
    if (f.kind !== 'request') throw new Error('unreachable');
    expect(f.detail).toContain('INVALID_OPTION');
    expect(f.detail).toContain('stagekeeper_sla_status');
    expect(f.detail).not.toContain('Jane');
  });

  it('quoted values in plain messages are masked; errors[].context names the property', () => {
    const f = classify(
      apiError(400, {
        status: 'error',
        message: 'Property "dealname" has value "Jane Doe" which is too long',
        correlationId: 'c',
        category: 'VALIDATION_ERROR',
        errors: [
          { message: 'Jane Doe too long', code: 'INVALID_LENGTH', context: { propertyName: ['dealname'] } },
        ],
      }),
    );
    if (f.kind !== 'request') throw new Error(`expected request, got ${f.kind}`);
    expect(f.detail).not.toContain('Jane');
    expect(f.properties).toEqual(['dealname']);
    expect(f.detail).toContain('INVALID_LENGTH');
  });

  it('404 / 409 are request errors with their category', () => {
    expect(
      classify(
        apiError(404, {
          status: 'error',
          message: 'Object not found.  objectId are usually numeric.',
          correlationId: 'c',
          category: 'OBJECT_NOT_FOUND',
        }),
      ),
    ).toMatchObject({ kind: 'request', status: 404, category: 'OBJECT_NOT_FOUND' });
    expect(
      classify(
        apiError(409, {
          status: 'error',
          message: 'Property named stagekeeper_sla_status already exists.',
          correlationId: 'c',
          category: 'CONFLICT',
        }),
      ),
    ).toMatchObject({ kind: 'request', status: 409, category: 'CONFLICT' });
  });

  it('5xx, 423 and network failures are transient', () => {
    expect(classify(apiError(502, '<html>Bad Gateway</html>'))).toMatchObject({
      kind: 'server',
      status: 502,
    });
    expect(
      classify(
        apiError(500, {
          status: 'error',
          message: 'internal error',
          correlationId: 'c',
          category: 'INTERNAL_ERROR',
        }),
      ),
    ).toMatchObject({ kind: 'server', status: 500 });
    expect(classify(apiError(423, { status: 'error', message: 'locked', correlationId: 'c' }))).toEqual({
      kind: 'locked',
    });
    const refused = new TypeError('fetch failed', {
      cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
    });
    expect(classify(refused)).toEqual({ kind: 'network', code: 'ECONNREFUSED' });
    const reset = new TypeError('fetch failed', {
      cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }),
    });
    expect(classify(reset)).toEqual({ kind: 'network', code: 'UND_ERR_SOCKET' });
  });

  it('a body the client cannot parse keeps the status seen on the wire', () => {
    expect(classify(new Error('Cannot parse content. No Content-Type defined.'), 503)).toMatchObject({
      kind: 'unparseable',
      status: 503,
    });
    expect(classify(new SyntaxError('Unexpected end of JSON input'), 400)).toMatchObject({
      kind: 'request',
      status: 400,
    });
  });

  it('anything else is not retried', () => {
    expect(classify(new RangeError('bug')).kind).toBe('unknown');
  });
});
