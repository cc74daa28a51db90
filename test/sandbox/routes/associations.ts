import {
  ASSOC_TYPE_IDS,
  assocNotFound,
  defaultTypeId,
  resolveAssocType,
  type AssocType,
} from '../associations';
import { recordIdOf } from '../crm';
import { validationError } from '../errors';
import type { Route, RouteContext } from '../router';
import { batchEnvelope, batchError, batchInputs } from './common';

/** The record an association call names, by the id it is kept under (a merged-away id: its survivor); else 404. */
function recordId(ctx: RouteContext, type: AssocType, id: string): string {
  const kept = recordIdOf(ctx.portal, type, id);
  if (!kept) throw assocNotFound(type, id);
  return kept;
}

function endpoints(ctx: RouteContext, fromKey: string, fromIdKey: string, toKey: string) {
  const from = resolveAssocType(ctx.params[fromKey]!);
  const to = resolveAssocType(ctx.params[toKey]!);
  return { from, to, fromId: recordId(ctx, from, ctx.params[fromIdKey]!) };
}

function pairDefault(from: AssocType, to: AssocType) {
  const def = defaultTypeId(from, to);
  if (!def)
    throw validationError(
      `No default association type between ${ASSOC_TYPE_IDS[from]} and ${ASSOC_TYPE_IDS[to]}`,
    );
  return def;
}

export const ASSOCIATION_ROUTES: Route[] = [
  {
    method: 'GET',
    pattern: '/crm/v4/objects/:type/:id/associations/:toType',
    handler: (ctx) => {
      const { from, to, fromId } = endpoints(ctx, 'type', 'id', 'toType');
      const all = ctx.portal.associations.list(from, fromId, to);
      const limit = Math.min(500, Number(ctx.query.get('limit') ?? 500));
      const offset = Number(ctx.query.get('after') ?? 0);
      const page = all.slice(offset, offset + limit);
      const next = offset + limit < all.length ? String(offset + limit) : undefined;
      return {
        status: 200,
        body: { results: page, ...(next ? { paging: { next: { after: next, link: '' } } } : {}) },
      };
    },
  },
  {
    method: 'PUT',
    pattern: '/crm/v4/objects/:type/:id/associations/default/:toType/:toId',
    write: true,
    handler: (ctx) => {
      const started = Date.now();
      const { from, to, fromId } = endpoints(ctx, 'type', 'id', 'toType');
      const toId = recordId(ctx, to, ctx.params.toId!);
      const def = pairDefault(from, to);
      ctx.portal.associations.add(from, fromId, to, toId, def.typeId, def.inverse);
      const spec = (typeId: number) => ({
        associationCategory: 'HUBSPOT_DEFINED',
        associationTypeId: typeId,
      });
      return {
        status: 200,
        body: batchEnvelope(started, [
          { from: { id: fromId }, to: { id: toId }, associationSpec: spec(def.typeId) },
          { from: { id: toId }, to: { id: fromId }, associationSpec: spec(def.inverse) },
        ]),
      };
    },
  },
  {
    method: 'PUT',
    pattern: '/crm/v4/objects/:type/:id/associations/:toType/:toId',
    write: true,
    handler: (ctx) => {
      const { from, to, fromId } = endpoints(ctx, 'type', 'id', 'toType');
      const toId = recordId(ctx, to, ctx.params.toId!);
      if (!Array.isArray(ctx.body) || ctx.body.length === 0)
        throw validationError('Body must be a non-empty array of association specs');
      const defs = ctx.body.map((spec) => ctx.portal.associations.check(from, to, spec));
      defs.forEach((d) => ctx.portal.associations.add(from, fromId, to, toId, d.typeId, d.inverse));
      return {
        status: 201,
        body: {
          fromObjectTypeId: ASSOC_TYPE_IDS[from],
          fromObjectId: Number(fromId),
          toObjectTypeId: ASSOC_TYPE_IDS[to],
          toObjectId: Number(toId),
          labels: [],
        },
      };
    },
  },
  {
    method: 'DELETE',
    pattern: '/crm/v4/objects/:type/:id/associations/:toType/:toId',
    write: true,
    handler: (ctx) => {
      const from = resolveAssocType(ctx.params.type!);
      const to = resolveAssocType(ctx.params.toType!);
      ctx.portal.associations.remove(
        from,
        recordIdOf(ctx.portal, from, ctx.params.id!) ?? ctx.params.id!,
        to,
        recordIdOf(ctx.portal, to, ctx.params.toId!) ?? ctx.params.toId!,
      );
      return { status: 204 };
    },
  },
  {
    method: 'POST',
    pattern: '/crm/v4/associations/:from/:to/batch/read',
    handler: (ctx) => {
      const started = Date.now();
      const from = resolveAssocType(ctx.params.from!);
      const to = resolveAssocType(ctx.params.to!);
      const results = [];
      const errors = [];
      for (const input of batchInputs<{ id?: unknown }>(ctx.body)) {
        const id = String(input?.id ?? '');
        const kept = recordIdOf(ctx.portal, from, id);
        const list = kept ? ctx.portal.associations.list(from, kept, to) : [];
        if (list.length) results.push({ from: { id }, to: list });
        else
          errors.push(
            batchError(
              'OBJECT_NOT_FOUND',
              `No ${to.replace(/s$/, '')} is associated with ${from.replace(/s$/, '')} ${id}.`,
              { fromObjectId: [id] },
              'crm.associations.NO_ASSOCIATIONS_FOUND',
            ),
          );
      }
      return { status: errors.length ? 207 : 200, body: batchEnvelope(started, results, errors) };
    },
  },
  {
    method: 'POST',
    pattern: '/crm/v4/associations/:from/:to/batch/create',
    write: true,
    handler: (ctx) => {
      const started = Date.now();
      const from = resolveAssocType(ctx.params.from!);
      const to = resolveAssocType(ctx.params.to!);
      const inputs = batchInputs<{ from?: { id?: unknown }; to?: { id?: unknown }; types?: unknown[] }>(
        ctx.body,
      );
      // Validate everything first so a bad input leaves no half-written batch behind.
      const planned = inputs.map((i) => {
        const fromId = String(i?.from?.id ?? '');
        const toId = String(i?.to?.id ?? '');
        const ids = { fromId: recordId(ctx, from, fromId), toId: recordId(ctx, to, toId) };
        if (!Array.isArray(i.types) || !i.types.length)
          throw validationError('Each input needs at least one association type');
        return { ...ids, defs: i.types.map((spec) => ctx.portal.associations.check(from, to, spec)) };
      });
      const results = planned.map(({ fromId, toId, defs }) => {
        defs.forEach((d) => ctx.portal.associations.add(from, fromId, to, toId, d.typeId, d.inverse));
        return {
          fromObjectTypeId: ASSOC_TYPE_IDS[from],
          fromObjectId: Number(fromId),
          toObjectTypeId: ASSOC_TYPE_IDS[to],
          toObjectId: Number(toId),
          labels: [],
        };
      });
      return { status: 201, body: batchEnvelope(started, results) };
    },
  },
  {
    method: 'POST',
    pattern: '/crm/v4/associations/:from/:to/batch/associate/default',
    write: true,
    handler: (ctx) => {
      const started = Date.now();
      const from = resolveAssocType(ctx.params.from!);
      const to = resolveAssocType(ctx.params.to!);
      const def = pairDefault(from, to);
      const inputs = batchInputs<{ from?: { id?: unknown }; to?: { id?: unknown } }>(ctx.body);
      const pairs = inputs.map((i) => {
        const fromId = String(i?.from?.id ?? '');
        const toId = String(i?.to?.id ?? '');
        return { fromId: recordId(ctx, from, fromId), toId: recordId(ctx, to, toId) };
      });
      const results = pairs.map(({ fromId, toId }) => {
        ctx.portal.associations.add(from, fromId, to, toId, def.typeId, def.inverse);
        return {
          from: { id: fromId },
          to: { id: toId },
          associationSpec: { associationCategory: 'HUBSPOT_DEFINED', associationTypeId: def.typeId },
        };
      });
      return { status: 200, body: batchEnvelope(started, results) };
    },
  },
];
