import type { ErrorRequestHandler, Response } from 'express';
import type { Logger } from '../log';
import { errorSummary } from '../log';

/** The stable codes of docs/hubspot-app.md §4.1; the UI branches on them. */
export type ApiErrorCode =
  | 'invalid_request'
  | 'invalid_playbook'
  | 'bad_signature'
  | 'forbidden'
  | 'not_installed'
  | 'replayed'
  | 'not_found'
  | 'version_conflict'
  | 'no_breach'
  | 'unavailable';

export type ApiIssue = { path: (string | number)[]; message: string };

const STATUS: Record<ApiErrorCode, number> = {
  invalid_request: 400,
  invalid_playbook: 400,
  bad_signature: 401,
  forbidden: 403,
  not_installed: 403,
  replayed: 409,
  not_found: 404,
  version_conflict: 409,
  no_breach: 409,
  unavailable: 503,
};

/**
 * An answer the UI shows as is. `message` is one sentence with no property values or patient data: it is
 * rendered to reps and may end up in HubSpot's proxy logs.
 */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly issues?: ApiIssue[],
  ) {
    super(message);
  }

  get status(): number {
    return STATUS[this.code];
  }
}

export function sendError(res: Response, err: ApiError): void {
  res
    .status(err.status)
    .json({ error: { code: err.code, message: err.message, ...(err.issues ? { issues: err.issues } : {}) } });
}

/**
 * Router-level handler so every failure under /api keeps the §4.1 shape (the app's own handler answers in the
 * webhook format). Anything unexpected is treated as the store or HubSpot being unreachable: the UI offers a retry.
 */
export function apiErrorHandler(log: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    if (err instanceof ApiError) return sendError(res, err);
    if (err?.type === 'entity.too.large')
      return sendError(res, new ApiError('invalid_request', 'The request body is too large.'));
    if (typeof err?.status === 'number' && err.status >= 400 && err.status < 500)
      return sendError(res, new ApiError('invalid_request', 'The request could not be read.'));
    log.error({ path: req.path, err: errorSummary(err) }, 'api request failed');
    sendError(res, new ApiError('unavailable', 'Stagekeeper is temporarily unavailable; please try again.'));
  };
}
