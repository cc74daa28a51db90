import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The OAuth `state` parameter, stateless: `<nonce>.<expiresAt base36>.<HMAC>` signed with a key derived from the
 * app's client secret. Nothing is written per /oauth/install request, so an unauthenticated endpoint cannot fill
 * Redis. The state also travels in an HttpOnly cookie on the callback path: a callback is accepted only from the
 * browser that started the install (the cookie is compared before anything else is looked at). Replay of a state
 * is harmless on its own: the code it travels with is single-use at HubSpot and bound to our redirect URI.
 */
const FORMAT = /^([A-Za-z0-9_-]{22})\.([0-9a-z]{1,12})\.([A-Za-z0-9_-]{43})$/;

export type StateVerdict = { ok: true } | { ok: false; reason: 'malformed' | 'forged' | 'expired' };

export class OAuthStateSigner {
  private readonly key: Buffer;

  constructor(
    clientSecret: string,
    private readonly ttlMs: number = 10 * 60_000,
    private readonly clock: () => number = Date.now,
  ) {
    // A derived key, so a state's MAC can never double as a webhook or card signature made with the raw secret.
    this.key = createHmac('sha256', clientSecret).update('stagekeeper oauth state v1').digest();
  }

  issue(): string {
    const body = `${randomBytes(16).toString('base64url')}.${(this.clock() + this.ttlMs).toString(36)}`;
    return `${body}.${this.mac(body)}`;
  }

  verify(state: string): StateVerdict {
    const m = FORMAT.exec(state);
    if (!m) return { ok: false, reason: 'malformed' };
    const expected = Buffer.from(this.mac(`${m[1]}.${m[2]}`));
    const got = Buffer.from(m[3]!);
    if (expected.length !== got.length || !timingSafeEqual(expected, got))
      return { ok: false, reason: 'forged' };
    if (parseInt(m[2]!, 36) <= this.clock()) return { ok: false, reason: 'expired' };
    return { ok: true };
  }

  private mac(body: string): string {
    return createHmac('sha256', this.key).update(body).digest('base64url');
  }
}
