import type { Response } from 'express';
import type { CardView } from '@stagekeeper/shared';
import { ApiError } from './errors';

/** hubspot.fetch refuses bigger responses (§4.1). */
export const MAX_RESPONSE_BYTES = 1024 * 1024;

const bytes = (body: unknown) => Buffer.byteLength(JSON.stringify(body), 'utf8');

/** Sends JSON that fits HubSpot's limit; a body that cannot fit is a server fault, never a truncated document. */
export function sendJson(res: Response, body: unknown, limit = MAX_RESPONSE_BYTES): void {
  const text = JSON.stringify(body);
  if (Buffer.byteLength(text, 'utf8') > limit)
    throw new ApiError('unavailable', 'The answer is too large to send; please contact support.');
  res.type('application/json').send(text);
}

/**
 * Shortens the card's lists (longest first, halving) until the view fits. Only a playbook with thousands of
 * long criterion labels gets here; showing the first items beats an error card.
 */
export function fitCardView(view: CardView, limit = MAX_RESPONSE_BYTES): CardView {
  if (!view.managed || bytes(view) <= limit) return view;
  const v = structuredClone(view);
  const lists = (): unknown[][] => [
    v.exitChecklist,
    v.requiredActions,
    ...(v.nextMove ? [v.nextMove.missing] : []),
    v.gate.missing,
    v.breaches,
    v.watchProperties,
    ...(v.breachReason ? [v.breachReason.evidence] : []),
  ];
  while (bytes(v) > limit) {
    const longest = lists().reduce((a, b) => (bytes(b) > bytes(a) ? b : a));
    if (longest.length === 0) break;
    longest.length = Math.floor(longest.length / 2);
  }
  return v;
}
