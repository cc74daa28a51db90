import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeSignedUri, verifySignatureV3 } from './signature';

// Expected values are computed here straight from HubSpot's documented formula, independently of the module.
const SECRET = 'yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy';
const sign = (method: string, uri: string, body: string, ts: string, secret = SECRET) =>
  createHmac('sha256', secret)
    .update(method + uri + body + ts)
    .digest('base64');

const NOW = 1_760_000_000_000;
const TS = String(NOW - 1_000);
const URI = 'https://hooks.example.com/webhooks/hubspot';
const BODY =
  '[{"eventId":1,"subscriptionType":"deal.creation","portalId":62515,"objectId":123,"occurredAt":1}]';

describe('verifySignatureV3', () => {
  it('accepts a correctly signed POST', () => {
    const signature = sign('POST', URI, BODY, TS);
    expect(
      verifySignatureV3(
        SECRET,
        { method: 'POST', uri: URI, rawBody: Buffer.from(BODY), signature, timestamp: TS },
        NOW,
      ),
    ).toEqual({ ok: true });
  });

  it('accepts a fixed vector (guards against the helper and the module drifting together)', () => {
    // HMAC-SHA256("secret", "GEThttps://a.test/x?y=1" + "" + "1700000000000"), base64, computed once with openssl.
    const expected = createHmac('sha256', 'secret')
      .update('GEThttps://a.test/x?y=11700000000000')
      .digest('base64');
    expect(expected).toBe('DqnOFLq2n/nfO6RChaGNBKpX2hVlgevMExPjCvH4d8Q=');
    expect(
      verifySignatureV3(
        'secret',
        {
          method: 'get',
          uri: 'https://a.test/x?y=1',
          rawBody: '',
          signature: expected,
          timestamp: '1700000000000',
        },
        1_700_000_000_000,
      ),
    ).toEqual({ ok: true });
  });

  it('signs the decoded form of HubSpot-escaped URI characters', () => {
    const encoded =
      'https://hooks.example.com/webhooks/hubspot%3Fportal%3D1%26x%40y%3Aa%2Cb%3Bc%21%24%27%28%29%2A';
    const decoded = "https://hooks.example.com/webhooks/hubspot?portal%3D1%26x@y:a,b;c!$'()*";
    expect(decodeSignedUri(encoded)).toBe(decoded);
    expect(decodeSignedUri('%3a%2f')).toBe(':/'); // case-insensitive
    const signature = sign('POST', decoded, BODY, TS);
    expect(
      verifySignatureV3(
        SECRET,
        { method: 'POST', uri: encoded, rawBody: BODY, signature, timestamp: TS },
        NOW,
      ).ok,
    ).toBe(true);
  });

  it('does not decode escapes outside HubSpot’s table (%3D, %26, %20 stay as sent)', () => {
    const uri = 'https://h.test/p?a%3Db%26c%20d';
    const signedOverDecoded = sign('POST', 'https://h.test/p?a=b&c d', BODY, TS);
    expect(
      verifySignatureV3(
        SECRET,
        { method: 'POST', uri, rawBody: BODY, signature: signedOverDecoded, timestamp: TS },
        NOW,
      ),
    ).toEqual({ ok: false, reason: 'mismatch' });
    const signedAsSent = sign('POST', uri, BODY, TS);
    expect(
      verifySignatureV3(
        SECRET,
        { method: 'POST', uri, rawBody: BODY, signature: signedAsSent, timestamp: TS },
        NOW,
      ).ok,
    ).toBe(true);
  });

  it('hashes multi-byte UTF-8 bodies as the received bytes', () => {
    const body = '[{"note":"Zoë – café ✓"}]';
    const signature = sign('POST', URI, body, TS);
    expect(
      verifySignatureV3(
        SECRET,
        { method: 'POST', uri: URI, rawBody: Buffer.from(body, 'utf8'), signature, timestamp: TS },
        NOW,
      ).ok,
    ).toBe(true);
  });

  it('rejects missing headers', () => {
    const base = { method: 'POST', uri: URI, rawBody: BODY };
    expect(verifySignatureV3(SECRET, { ...base, signature: undefined, timestamp: TS }, NOW)).toEqual({
      ok: false,
      reason: 'missing_header',
    });
    expect(verifySignatureV3(SECRET, { ...base, signature: 'x', timestamp: undefined }, NOW)).toEqual({
      ok: false,
      reason: 'missing_header',
    });
  });

  it('rejects a non-numeric timestamp', () => {
    const signature = sign('POST', URI, BODY, 'abc');
    expect(
      verifySignatureV3(
        SECRET,
        { method: 'POST', uri: URI, rawBody: BODY, signature, timestamp: 'abc' },
        NOW,
      ),
    ).toEqual({ ok: false, reason: 'bad_timestamp' });
  });

  it('rejects stale and future timestamps beyond 5 minutes, accepts exactly 5 minutes', () => {
    for (const [ts, ok] of [
      [NOW - 300_000, true],
      [NOW - 300_001, false],
      [NOW + 300_000, true],
      [NOW + 300_001, false],
    ] as const) {
      const timestamp = String(ts);
      const signature = sign('POST', URI, BODY, timestamp);
      const result = verifySignatureV3(
        SECRET,
        { method: 'POST', uri: URI, rawBody: BODY, signature, timestamp },
        NOW,
      );
      expect(result).toEqual(ok ? { ok: true } : { ok: false, reason: 'stale' });
    }
  });

  it('rejects a wrong secret, a changed body, a different method or URI, and a truncated signature', () => {
    const good = sign('POST', URI, BODY, TS);
    const check = (
      over: Partial<{ method: string; uri: string; rawBody: string; signature: string }>,
      secret = SECRET,
    ) =>
      verifySignatureV3(
        secret,
        { method: 'POST', uri: URI, rawBody: BODY, signature: good, timestamp: TS, ...over },
        NOW,
      );
    expect(check({}, 'other-secret')).toEqual({ ok: false, reason: 'mismatch' });
    expect(check({ rawBody: BODY.replace('123', '124') })).toEqual({ ok: false, reason: 'mismatch' });
    expect(check({ method: 'PUT' })).toEqual({ ok: false, reason: 'mismatch' });
    expect(check({ uri: `${URI}/` })).toEqual({ ok: false, reason: 'mismatch' });
    expect(check({ signature: good.slice(0, -2) })).toEqual({ ok: false, reason: 'mismatch' });
    // The timestamp is signed too: moving it (inside the window) breaks the signature.
    expect(
      verifySignatureV3(
        SECRET,
        { method: 'POST', uri: URI, rawBody: BODY, signature: good, timestamp: String(NOW) },
        NOW,
      ),
    ).toEqual({ ok: false, reason: 'mismatch' });
  });
});
