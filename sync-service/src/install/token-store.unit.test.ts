import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { EncryptionKeyError, keyRingProblem, parseKeyRing } from './encryption-key';
import { decryptTokens, encryptTokens, StoredTokensUnreadableError } from './token-store';

const key = () => randomBytes(32);
const tokens = {
  accessToken: `CN${'a'.repeat(200)}`,
  refreshToken: 'na1-refresh-0001',
  expiresAt: 1_772_460_000_000,
};

function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(StoredTokensUnreadableError);
    return (err as StoredTokensUnreadableError).reason;
  }
  throw new Error('expected a StoredTokensUnreadableError');
}

/** Flips one bit of one base64url part of the blob. */
function tamper(blob: string, part: number): string {
  const parts = blob.split('.');
  const bytes = Buffer.from(parts[part]!, 'base64url');
  bytes[0]! ^= 0x01;
  parts[part] = bytes.toString('base64url');
  return parts.join('.');
}

describe('token encryption', () => {
  const ring = parseKeyRing(key().toString('base64'));

  it('round-trips, with a fresh IV per write and no token text in the blob', () => {
    const a = encryptTokens(ring, '123', tokens);
    const b = encryptTokens(ring, '123', tokens);
    expect(decryptTokens(ring, '123', a)).toEqual(tokens);
    expect(a.split('.')[2]).not.toBe(b.split('.')[2]);
    expect(a).not.toBe(b);
    expect(a).not.toContain(tokens.refreshToken);
    expect(a).not.toContain('aaaaaaaa');
    expect(a.split('.').slice(0, 2)).toEqual(['sk1', ring.current.id]);
  });

  it('rejects a flipped bit in the IV, ciphertext or tag', () => {
    const blob = encryptTokens(ring, '123', tokens);
    for (const part of [2, 3, 4])
      expect(reasonOf(() => decryptTokens(ring, '123', tamper(blob, part)))).toBe('auth_failed');
  });

  it('rejects a blob moved to another portal (the portal id is authenticated)', () => {
    const blob = encryptTokens(ring, '123', tokens);
    expect(reasonOf(() => decryptTokens(ring, '456', blob))).toBe('auth_failed');
  });

  it('rejects a blob written with a key the ring does not hold, and a relabelled key id', () => {
    const other = parseKeyRing(key().toString('hex'));
    const blob = encryptTokens(other, '123', tokens);
    expect(reasonOf(() => decryptTokens(ring, '123', blob))).toBe('unknown_key');
    // Claiming our key id does not help: the id is authenticated and the key is wrong anyway.
    const relabelled = blob.replace(other.current.id, ring.current.id);
    expect(reasonOf(() => decryptTokens(ring, '123', relabelled))).toBe('auth_failed');
  });

  it('reports malformed blobs without throwing anything else', () => {
    const blob = encryptTokens(ring, '123', tokens);
    for (const bad of [
      '',
      'garbage',
      '{"accessToken":"x"}',
      blob.replace('sk1', 'sk9'),
      blob.split('.').slice(0, 4).join('.'),
      `${blob}.x`,
    ])
      expect(reasonOf(() => decryptTokens(ring, '123', bad))).toBe('malformed');
    // A truncated tag would weaken authentication; it is refused, not tried.
    const parts = blob.split('.');
    parts[4] = Buffer.from(parts[4]!, 'base64url').subarray(0, 8).toString('base64url');
    expect(reasonOf(() => decryptTokens(ring, '123', parts.join('.')))).toBe('malformed');
  });

  it('the error message names the portal and what to do, never token material', () => {
    const err = new StoredTokensUnreadableError('123', 'auth_failed');
    expect(err.message).toMatch(/portal 123 .*reinstall/);
  });

  it('decrypts with an older key after rotation and encrypts with the first one', () => {
    const oldKey = key().toString('base64');
    const before = parseKeyRing(oldKey);
    const blob = encryptTokens(before, '123', tokens);
    const rotated = parseKeyRing(`${key().toString('base64url')},${oldKey}`);
    expect(decryptTokens(rotated, '123', blob)).toEqual(tokens);
    const rewritten = encryptTokens(rotated, '123', tokens);
    expect(rewritten.split('.')[1]).toBe(rotated.current.id);
    expect(reasonOf(() => decryptTokens(before, '123', rewritten))).toBe('unknown_key');
  });
});

describe('TOKEN_ENCRYPTION_KEY parsing', () => {
  it('accepts 32 bytes as hex, base64 and base64url', () => {
    const k = key();
    const ids = [k.toString('hex'), k.toString('base64'), k.toString('base64url')].map(
      (t) => parseKeyRing(t).current.id,
    );
    expect(new Set(ids).size).toBe(1);
  });

  it('refuses wrong lengths, other text, empty entries and duplicates, without echoing the value', () => {
    const secretish = 'correct-horse-battery-staple-secret';
    const cases = [
      randomBytes(16).toString('hex'),
      randomBytes(31).toString('base64'),
      randomBytes(33).toString('base64'),
      secretish,
      `${key().toString('hex')},`,
    ];
    for (const c of cases) {
      expect(() => parseKeyRing(c)).toThrow(EncryptionKeyError);
      expect(keyRingProblem(c)).not.toContain(c);
    }
    expect(keyRingProblem(secretish)).toMatch(/expected 32 random bytes/);
    const k = key().toString('hex');
    expect(keyRingProblem(`${k},${Buffer.from(k, 'hex').toString('base64')}`)).toMatch(/twice/);
    expect(keyRingProblem(k)).toBeNull();
  });
});
