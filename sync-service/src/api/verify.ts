import express, { type Request, type RequestHandler } from 'express';
import { signatureHeadersFirst, signedUri } from '../http/app';
import type { ReplayStore } from '../http/replay-store';
import type { Logger } from '../log';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, verifySignatureV3 } from '../webhooks/signature';
import { ApiError } from './errors';

/** Who is calling, as HubSpot signed it; the only identity the API trusts. */
export type Caller = {
  portalId: string;
  userId: string | null;
  userEmail: string | null;
  appId: string | null;
};

export type VerifyOptions = {
  clientSecret: string;
  /** Public origin (plus any prefix a proxy strips); config PUBLIC_URL. */
  publicUrl: string | undefined;
  log: Logger;
  clock?: () => number;
  /** hubspot.fetch bodies are at most 1 MB. */
  maxBodyBytes?: number;
  /** Signed writes already carried out: the same signed PUT/POST/DELETE again is refused (409 replayed). */
  replay?: Pick<ReplayStore, 'claim'>;
};

const ONE_MB = 1024 * 1024;

/** Set by `verifiedCaller`; handlers read it through `callerOf`. */
const CALLER = Symbol('stagekeeper.caller');
type WithCaller = Request & { [CALLER]?: Caller; rawBody?: Buffer };

export function callerOf(req: Request): Caller {
  const caller = (req as WithCaller)[CALLER];
  // A route wired without the verifier must fail closed, never fall back to an unscoped read.
  if (!caller) throw new Error('route is missing the signature verifier');
  return caller;
}

/** The raw bytes HubSpot signed, decoded as JSON; undefined for an empty body. */
export function jsonBody(req: Request): unknown {
  const raw = (req as WithCaller).rawBody;
  if (!raw || raw.length === 0) return undefined;
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    throw new ApiError('invalid_request', 'The request body is not valid JSON.');
  }
}

/**
 * The query exactly as received: HubSpot appends its parameters to the URL the UI built, so a parameter the UI
 * sent (or anything else) may share a name with one HubSpot appends. Repeated identity parameters are refused.
 */
function signedParams(originalUrl: string): URLSearchParams {
  const q = originalUrl.indexOf('?');
  return new URLSearchParams(q >= 0 ? originalUrl.slice(q + 1) : '');
}

function single(params: URLSearchParams, name: string): string | null {
  const all = params.getAll(name);
  if (all.length > 1) throw new ApiError('invalid_request', `The signed query repeats ${name}.`);
  return all[0] ?? null;
}

/**
 * Verifies X-HubSpot-Signature-v3 over the public URL and the raw body, then pins the caller's portal from the
 * signed query. Mounted per route (not router-wide) so other /api routers mounted later are not shadowed.
 */
export function verifiedCaller(opts: VerifyOptions): RequestHandler[] {
  const clock = opts.clock ?? Date.now;
  const raw = express.raw({ type: () => true, limit: opts.maxBodyBytes ?? ONE_MB });
  const verify: RequestHandler = (req, _res, next) => {
    const rawBody = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const verdict = verifySignatureV3(
      opts.clientSecret,
      {
        method: req.method,
        uri: signedUri(req, opts.publicUrl),
        rawBody,
        signature: req.get(SIGNATURE_HEADER),
        timestamp: req.get(TIMESTAMP_HEADER),
      },
      clock(),
    );
    if (!verdict.ok) {
      // The reason separates clock skew from a wrong secret in logs; the caller learns nothing beyond "no".
      opts.log.warn({ path: req.path, reason: verdict.reason }, 'api signature rejected');
      return next(new ApiError('bad_signature', 'The request signature is missing, expired or wrong.'));
    }
    const params = signedParams(req.originalUrl);
    const portalId = single(params, 'portalId');
    if (portalId === null || !/^\d{1,20}$/.test(portalId))
      return next(new ApiError('invalid_request', 'The signed request names no HubSpot account.'));
    const r = req as WithCaller;
    r.rawBody = rawBody;
    r[CALLER] = {
      portalId,
      userId: single(params, 'userId'),
      userEmail: single(params, 'userEmail'),
      appId: single(params, 'appId'),
    };
    // Reads may repeat harmlessly (a card re-rendering); a write must not run twice from one signature.
    if (opts.replay && req.method !== 'GET' && req.method !== 'HEAD') {
      opts.replay
        .claim(req.get(SIGNATURE_HEADER)!)
        .then(
          (fresh) =>
            next(
              fresh
                ? undefined
                : new ApiError('replayed', 'This signed request was already received; send a new one.'),
            ),
          next,
        );
      return;
    }
    next();
  };
  // Headers first: an unsigned request is refused before its body is read.
  const headersFirst = signatureHeadersFirst(clock, (res, reason) => {
    opts.log.warn({ reason }, 'api signature headers rejected');
    res.status(401).json({
      error: { code: 'bad_signature', message: 'The request signature is missing, expired or wrong.' },
    });
  });
  return [headersFirst, raw, verify];
}
