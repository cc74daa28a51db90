import { commitCreate, mergeObjects, prepareCreate, updateObject } from '../crm';
import { OBJECT_LABEL, resolveObjectType, type ObjectType } from '../catalog';
import { notFound, validationError } from '../errors';
import type { PreparedWrite } from '../objects';
import type { Route, RouteContext } from '../router';
import { parseSearch, runSearch } from '../search';
import { batchEnvelope, batchError, batchInputs, boolParam, intParam, listParam } from './common';

const type = (ctx: RouteContext): ObjectType => resolveObjectType(ctx.params.type!);
const api = (ctx: RouteContext) => ctx.portal.apiSource;
const singular = { deals: 'deal', tasks: 'task', notes: 'note' } as const;

function checkIdProperty(ctx: RouteContext): void {
  const idProperty =
    ctx.query.get('idProperty') ?? (ctx.body as { idProperty?: string } | undefined)?.idProperty;
  if (idProperty && idProperty !== 'hs_object_id')
    throw validationError(`Sandbox supports only record ids, not idProperty=${idProperty}`);
}

function getOne(ctx: RouteContext) {
  checkIdProperty(ctx);
  const t = type(ctx);
  const obj = ctx.portal.objects.get(t, ctx.params.id!, boolParam(ctx.query, 'archived'));
  const body = ctx.portal.objects.toApi(obj, listParam(ctx.query, 'properties'), false, hideSensitive(ctx));
  const assocTypes = listParam(ctx.query, 'associations');
  if (assocTypes?.length) {
    const associations: Record<string, unknown> = {};
    for (const to of assocTypes) {
      const ids = ctx.portal.associations.ids(t, obj.id, to as never);
      if (ids.length)
        associations[to] = {
          results: ids.map((id) => ({ id, type: `${singular[t]}_to_${to.replace(/s$/, '')}` })),
        };
    }
    Object.assign(body, { associations });
  }
  return { status: 200, body };
}

function list(ctx: RouteContext) {
  const t = type(ctx);
  const limit = intParam(ctx.query, 'limit', 10, 100);
  const after = ctx.query.get('after');
  const all = ctx.portal.objects
    .all(t, boolParam(ctx.query, 'archived'))
    .sort((a, b) => Number(a.id) - Number(b.id));
  const start = after ? all.findIndex((o) => Number(o.id) >= Number(after)) : 0;
  const page = start < 0 ? [] : all.slice(start, start + limit);
  const next = start < 0 ? undefined : all[start + limit];
  const props = listParam(ctx.query, 'properties');
  return {
    status: 200,
    body: {
      results: page.map((o) => ctx.portal.objects.toApi(o, props, false, hideSensitive(ctx))),
      ...(next
        ? { paging: { next: { after: next.id, link: `/crm/v3/objects/${t}?after=${next.id}` } } }
        : {}),
    },
  };
}

function batchRead(ctx: RouteContext) {
  checkIdProperty(ctx);
  const started = Date.now();
  const t = type(ctx);
  const body = ctx.body as { properties?: string[] };
  const inputs = batchInputs<{ id?: unknown }>(ctx.body);
  const archived = boolParam(ctx.query, 'archived');
  const seen = new Set<string>();
  const results = [];
  const missing: string[] = [];
  for (const input of inputs) {
    const id = String(input?.id ?? '');
    const obj = ctx.portal.objects.find(t, id, archived);
    if (!obj) missing.push(id);
    else if (!seen.has(obj.id)) {
      seen.add(obj.id);
      results.push(
        ctx.portal.objects.toApi(
          obj,
          Array.isArray(body.properties) ? body.properties : undefined,
          false,
          hideSensitive(ctx),
        ),
      );
    }
  }
  const errors = missing.length
    ? [
        batchError(
          'OBJECT_NOT_FOUND',
          `Could not get some ${OBJECT_LABEL[t]} objects, they may be deleted or not exist. Check that ids are valid.`,
          { ids: missing },
        ),
      ]
    : [];
  return { status: errors.length ? 207 : 200, body: batchEnvelope(started, results, errors) };
}

/** Values of Sensitive Data properties need the sensitive read scope (UNCERTAIN: HubSpot may refuse instead). */
const hideSensitive = (ctx: RouteContext) => !ctx.portal.canReadSensitive(ctx.principal);

function batchCreate(ctx: RouteContext) {
  const started = Date.now();
  const t = type(ctx);
  // HubSpot validates the whole batch first: one bad input refuses all of them.
  const prepared = batchInputs(ctx.body).map((input) => prepareCreate(ctx.portal, t, input));
  const results = prepared.map((p) =>
    ctx.portal.objects.toApi(commitCreate(ctx.portal, p, api(ctx)), undefined, true),
  );
  return { status: 201, body: batchEnvelope(started, results) };
}

function batchUpdate(ctx: RouteContext) {
  checkIdProperty(ctx);
  const started = Date.now();
  const t = type(ctx);
  const inputs = batchInputs<{ id?: unknown; properties?: unknown }>(ctx.body);
  const ids = inputs.map((i) => String(i?.id ?? ''));
  const dupes = [...new Set(ids.filter((id, i) => ids.indexOf(id) !== i))];
  if (dupes.length)
    throw validationError(`Duplicate IDs found in batch input: [${dupes.join(', ')}]. IDs must be unique`);
  const missing: string[] = [];
  const prepared: PreparedWrite[] = [];
  inputs.forEach((input, i) => {
    const target = ctx.portal.objects.find(t, ids[i]!);
    if (!target) missing.push(ids[i]!);
    else prepared.push(ctx.portal.objects.prepareUpdate(t, target, input.properties ?? {}));
  });
  if (missing.length && ctx.portal.batchUpdateMissing === 'refuse')
    throw notFound(
      `Could not update some ${OBJECT_LABEL[t]} objects, they may be deleted or not exist. Check that ids are valid.`,
      { context: { ids: missing } },
    );
  const results = prepared.map((w) =>
    ctx.portal.objects.toApi(ctx.portal.objects.commitUpdate(w, api(ctx)), undefined, true),
  );
  const errors = missing.length
    ? [
        batchError(
          'OBJECT_NOT_FOUND',
          `Could not update some ${OBJECT_LABEL[t]} objects, they may be deleted or not exist. Check that ids are valid.`,
          { ids: missing },
        ),
      ]
    : [];
  return { status: errors.length ? 207 : 200, body: batchEnvelope(started, results, errors) };
}

function batchArchive(ctx: RouteContext) {
  const t = type(ctx);
  for (const input of batchInputs<{ id?: unknown }>(ctx.body)) {
    const obj = ctx.portal.objects.find(t, String(input?.id ?? ''));
    if (obj) ctx.portal.objects.archive(obj, api(ctx));
  }
  return { status: 204 };
}

function search(ctx: RouteContext) {
  const t = type(ctx);
  const catalog = ctx.portal.catalogs[t];
  const req = parseSearch(ctx.body, catalog);
  const { total, page, nextAfter } = runSearch(req, ctx.portal.objects.all(t), catalog, (o, n) =>
    ctx.portal.objects.value(o, n),
  );
  // Search's default property set is the three HubSpot always includes.
  const props = req.properties ?? [];
  return {
    status: 200,
    body: {
      total,
      results: page.map((o) => ctx.portal.objects.toApi(o, props, false, hideSensitive(ctx))),
      ...(nextAfter
        ? { paging: { next: { after: nextAfter, link: `/crm/v3/objects/${t}/search?after=${nextAfter}` } } }
        : {}),
    },
  };
}

export const OBJECT_ROUTES: Route[] = [
  { method: 'POST', pattern: '/crm/v3/objects/:type/search', kind: 'search', handler: search },
  { method: 'POST', pattern: '/crm/v3/objects/:type/batch/read', handler: batchRead },
  { method: 'POST', pattern: '/crm/v3/objects/:type/batch/create', write: true, handler: batchCreate },
  { method: 'POST', pattern: '/crm/v3/objects/:type/batch/update', write: true, handler: batchUpdate },
  { method: 'POST', pattern: '/crm/v3/objects/:type/batch/archive', write: true, handler: batchArchive },
  {
    method: 'POST',
    pattern: '/crm/v3/objects/:type/merge',
    write: true,
    handler: (ctx) => {
      const b = (ctx.body ?? {}) as { primaryObjectId?: unknown; objectIdToMerge?: unknown };
      if (b.primaryObjectId === undefined || b.objectIdToMerge === undefined)
        throw validationError('primaryObjectId and objectIdToMerge are required');
      const merged = mergeObjects(
        ctx.portal,
        type(ctx),
        String(b.primaryObjectId),
        String(b.objectIdToMerge),
        api(ctx),
      );
      return { status: 200, body: ctx.portal.objects.toApi(merged, undefined, true) };
    },
  },
  { method: 'GET', pattern: '/crm/v3/objects/:type', handler: list },
  {
    method: 'POST',
    pattern: '/crm/v3/objects/:type',
    write: true,
    handler: (ctx) => {
      const obj = commitCreate(ctx.portal, prepareCreate(ctx.portal, type(ctx), ctx.body), api(ctx));
      return { status: 201, body: ctx.portal.objects.toApi(obj, undefined, true) };
    },
  },
  { method: 'GET', pattern: '/crm/v3/objects/:type/:id', handler: getOne },
  {
    method: 'PATCH',
    pattern: '/crm/v3/objects/:type/:id',
    write: true,
    handler: (ctx) => {
      checkIdProperty(ctx);
      const obj = updateObject(
        ctx.portal,
        type(ctx),
        ctx.params.id!,
        (ctx.body as { properties?: unknown } | undefined)?.properties ?? {},
        api(ctx),
      );
      return { status: 200, body: ctx.portal.objects.toApi(obj, undefined, true) };
    },
  },
  {
    method: 'DELETE',
    pattern: '/crm/v3/objects/:type/:id',
    write: true,
    handler: (ctx) => {
      // Archiving is idempotent in HubSpot: an unknown or already archived id still gets 204.
      const obj = ctx.portal.objects.find(type(ctx), ctx.params.id!);
      if (obj) ctx.portal.objects.archive(obj, api(ctx));
      return { status: 204 };
    },
  },
];
