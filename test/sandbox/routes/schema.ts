import { resolveObjectType } from '../catalog';
import { HubSpotError, notFound, validationError } from '../errors';
import type { Route, RouteContext } from '../router';
import { batchEnvelope, batchError, batchInputs, boolParam, intParam } from './common';

const catalog = (ctx: RouteContext) => ctx.portal.catalogs[resolveObjectType(ctx.params.type!)];

function dealPipelines(ctx: RouteContext) {
  if (resolveObjectType(ctx.params.type!) !== 'deals')
    throw validationError(`Sandbox has pipelines for deals only, not ${ctx.params.type}`);
  return ctx.portal.pipelines;
}

export const SCHEMA_ROUTES: Route[] = [
  // Properties
  {
    method: 'GET',
    pattern: '/crm/v3/properties/:type/groups',
    handler: (ctx) => ({ status: 200, body: { results: catalog(ctx).listGroups() } }),
  },
  {
    method: 'POST',
    pattern: '/crm/v3/properties/:type/groups',
    write: true,
    handler: (ctx) => ({ status: 201, body: catalog(ctx).createGroup(ctx.body) }),
  },
  {
    method: 'GET',
    pattern: '/crm/v3/properties/:type/groups/:name',
    handler: (ctx) => ({ status: 200, body: catalog(ctx).getGroup(ctx.params.name!) }),
  },
  {
    method: 'POST',
    pattern: '/crm/v3/properties/:type/batch/create',
    write: true,
    handler: (ctx) => {
      const started = Date.now();
      const c = catalog(ctx);
      const results = [];
      const errors = [];
      for (const input of batchInputs(ctx.body)) {
        try {
          results.push(c.create(input));
        } catch (e) {
          if (!(e instanceof HubSpotError)) throw e;
          errors.push(batchError(e.category, e.message, { name: [String(input?.name)] }));
        }
      }
      return { status: errors.length ? 207 : 201, body: batchEnvelope(started, results, errors) };
    },
  },
  {
    method: 'POST',
    pattern: '/crm/v3/properties/:type/batch/read',
    handler: (ctx) => {
      const started = Date.now();
      const c = catalog(ctx);
      const inputs = batchInputs<{ name?: string }>(ctx.body);
      const found = inputs.map((i) => c.get(String(i?.name))).filter((p) => p !== undefined);
      const missing = inputs.map((i) => String(i?.name)).filter((n) => !c.get(n));
      const errors = missing.length
        ? [batchError('OBJECT_NOT_FOUND', 'Some properties were not found', { names: missing })]
        : [];
      return { status: errors.length ? 207 : 200, body: batchEnvelope(started, found, errors) };
    },
  },
  {
    method: 'GET',
    pattern: '/crm/v3/properties/:type',
    // Sensitive Data properties are listed only when asked for by `dataSensitivity` (schema needs no sensitive scope).
    handler: (ctx) => {
      const wanted = ctx.query.get('dataSensitivity') ?? 'non_sensitive';
      const results = catalog(ctx)
        .list()
        .filter(
          (p) =>
            p.archived === boolParam(ctx.query, 'archived') &&
            (p.dataSensitivity ?? 'non_sensitive') === wanted,
        );
      return { status: 200, body: { results } };
    },
  },
  {
    method: 'POST',
    pattern: '/crm/v3/properties/:type',
    write: true,
    handler: (ctx) => ({ status: 201, body: catalog(ctx).create(ctx.body) }),
  },
  {
    method: 'GET',
    pattern: '/crm/v3/properties/:type/:name',
    handler: (ctx) => {
      const p = catalog(ctx).get(ctx.params.name!);
      if (!p) throw notFound(`Unable to find property ${ctx.params.name} for object type ${ctx.params.type}`);
      return { status: 200, body: p };
    },
  },

  // Account information (time zone, currency); the 2026-03 path answers the same.
  ...['/account-info/v3/details', '/account-info/2026-03/details'].map((pattern): Route => ({
    method: 'GET',
    pattern,
    handler: (ctx) => {
      const ms = zoneOffsetMs(ctx.portal.timeZone, ctx.portal.now());
      const sign = ms < 0 ? '-' : '+';
      const abs = Math.abs(ms) / 60_000;
      return {
        status: 200,
        body: {
          portalId: ctx.portal.portalId,
          accountType: 'STANDARD',
          timeZone: ctx.portal.timeZone,
          companyCurrency: 'USD',
          additionalCurrencies: [],
          dataHostingLocation: 'na1',
          uiDomain: 'app.hubspot.com',
          utcOffset: `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`,
          utcOffsetMilliseconds: ms,
        },
      };
    },
  })),

  // Pipelines
  {
    method: 'GET',
    pattern: '/crm/v3/pipelines/:type',
    handler: (ctx) => ({ status: 200, body: { results: dealPipelines(ctx).list() } }),
  },
  {
    method: 'GET',
    pattern: '/crm/v3/pipelines/:type/:id',
    handler: (ctx) => ({ status: 200, body: dealPipelines(ctx).get(ctx.params.id!) }),
  },
  {
    method: 'GET',
    pattern: '/crm/v3/pipelines/:type/:id/stages',
    handler: (ctx) => ({ status: 200, body: { results: dealPipelines(ctx).get(ctx.params.id!).stages } }),
  },
  {
    method: 'GET',
    pattern: '/crm/v3/pipelines/:type/:id/stages/:stageId',
    handler: (ctx) => {
      const stage = dealPipelines(ctx)
        .get(ctx.params.id!)
        .stages.find((s) => s.id === ctx.params.stageId);
      if (!stage) throw notFound(`Unable to find stage ${ctx.params.stageId} in pipeline ${ctx.params.id}`);
      return { status: 200, body: stage };
    },
  },

  // Owners
  {
    method: 'GET',
    pattern: '/crm/v3/owners',
    handler: (ctx) => {
      const limit = intParam(ctx.query, 'limit', 100, 500);
      const all = ctx.portal.owners.list(
        boolParam(ctx.query, 'archived'),
        ctx.query.get('email') ?? undefined,
      );
      const after = ctx.query.get('after');
      const start = after
        ? Math.max(
            0,
            all.findIndex((o) => Number(o.id) >= Number(after)),
          )
        : 0;
      const page = all.slice(start, start + limit);
      const next = all[start + limit];
      return {
        status: 200,
        body: {
          results: page,
          ...(next ? { paging: { next: { after: next.id, link: `/crm/v3/owners?after=${next.id}` } } } : {}),
        },
      };
    },
  },
  {
    method: 'GET',
    pattern: '/crm/v3/owners/:ownerId',
    handler: (ctx) => ({
      status: 200,
      body: ctx.portal.owners.get(ctx.params.ownerId!, {
        archived: boolParam(ctx.query, 'archived'),
        byUserId: ctx.query.get('idProperty') === 'userId',
      }),
    }),
  },
];

/** The UTC offset of `zone` at `at`, in ms (Intl: no time-zone library in the sandbox). */
function zoneOffsetMs(zone: string, at: number): number {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    })
      .formatToParts(at)
      .map((p) => [p.type, Number(p.value)]),
  ) as Record<string, number>;
  const wall = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!);
  return wall - Math.floor(at / 1000) * 1000;
}
