import { HubSpotRequestError } from '../errors';

/** HubSpot's batch endpoints take at most 100 inputs a call. */
export const BATCH = 100;
/** The largest page a CRM search returns. */
export const SEARCH_PAGE = 200;

export const chunk = <T>(items: T[], size = BATCH): T[][] => {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
};

/** Whether a batch error is about these ids; an error naming no ids may be anyone's. */
export const concerns = (e: { context?: Record<string, string[]> }, ids: string[]) =>
  !e.context?.ids || e.context.ids.some((id) => ids.includes(id));

/**
 * A batch HubSpot answered 207 with errors for some inputs: raised as a request error, because sending the same
 * inputs again would get the same answer.
 */
export const batchRejected = (o: { portalId: string; operation: string; category: string; detail: string }) =>
  new HubSpotRequestError({ ...o, status: 207 });

/**
 * A batch read answered 207: an id HubSpot has no object for (OBJECT_NOT_FOUND) is the caller's business, any
 * other error about these ids fails the read (reading again would get the same answer).
 */
export function throwIfReadRefused(
  portalId: string,
  operation: string,
  errors: readonly { category: string; context?: Record<string, string[]> }[] | undefined,
  ids: string[],
): void {
  const refused = (errors ?? []).find((e) => e.category !== 'OBJECT_NOT_FOUND' && concerns(e, ids));
  if (refused)
    throw batchRejected({
      portalId,
      operation,
      category: refused.category,
      detail: 'partial batch read failure',
    });
}

/** The ids a batch answer says HubSpot has no object for (OBJECT_NOT_FOUND): deleted, or never there. */
export function notFoundIds(
  errors: readonly { category: string; context?: Record<string, string[]> }[] | undefined,
): Set<string> {
  return new Set(
    (errors ?? []).filter((e) => e.category === 'OBJECT_NOT_FOUND').flatMap((e) => e.context?.ids ?? []),
  );
}

/**
 * A task batch update HubSpot answered with errors: a task deleted in HubSpot (OBJECT_NOT_FOUND) is the caller's
 * business, anything else fails the decision so the job is retried.
 */
export function throwIfTaskUpdatesRefused(
  portalId: string,
  errors: readonly { category: string }[] | undefined,
  what: string,
): void {
  const rejected = (errors ?? []).filter((e) => e.category !== 'OBJECT_NOT_FOUND');
  if (rejected.length)
    throw batchRejected({
      portalId,
      operation: 'tasks.batch.update',
      category: rejected[0]!.category,
      detail: `${rejected.length} ${what} rejected`,
    });
}
