import type { PropertyCatalog, PropertyDef } from './catalog';
import { validationError } from './errors';
import type { StoredObject } from './objects';
import { parseInstant } from './values';

export const SEARCH_LIMITS = {
  groups: 5,
  filtersPerGroup: 6,
  filtersTotal: 18,
  pageMax: 200,
  resultCap: 10_000,
  queryMax: 3000,
} as const;
const OPERATORS = [
  'EQ',
  'NEQ',
  'LT',
  'LTE',
  'GT',
  'GTE',
  'BETWEEN',
  'IN',
  'NOT_IN',
  'HAS_PROPERTY',
  'NOT_HAS_PROPERTY',
  'CONTAINS_TOKEN',
  'NOT_CONTAINS_TOKEN',
];

type Filter = {
  propertyName: string;
  operator: string;
  value?: unknown;
  highValue?: unknown;
  values?: unknown[];
};
type Sort = { propertyName: string; direction: 'ASCENDING' | 'DESCENDING' };
export type SearchRequest = {
  filters: Filter[][];
  sort?: Sort;
  query?: string;
  properties?: string[];
  limit: number;
  after: number;
};

/** Refuses what HubSpot's search refuses (facts §3) and returns the request in one normalised form. */
export function parseSearch(body: unknown, catalog: PropertyCatalog): SearchRequest {
  const b = (body ?? {}) as Record<string, unknown>;
  const groups = Array.isArray(b.filterGroups) ? (b.filterGroups as { filters?: unknown }[]) : [];
  if (groups.length > SEARCH_LIMITS.groups)
    throw validationError(
      `Too many filter groups (${groups.length}). The maximum number of filter groups is ${SEARCH_LIMITS.groups}.`,
    );
  const filters = groups.map((g) => (Array.isArray(g?.filters) ? (g.filters as Filter[]) : []));
  filters.forEach((f, i) => {
    if (f.length > SEARCH_LIMITS.filtersPerGroup)
      throw validationError(
        `Too many filters in filter group ${i} (${f.length}). The maximum number of filters per group is ${SEARCH_LIMITS.filtersPerGroup}.`,
      );
  });
  const total = filters.reduce((n, f) => n + f.length, 0);
  if (total > SEARCH_LIMITS.filtersTotal)
    throw validationError(
      `Too many filters (${total}). The maximum number of filters across all groups is ${SEARCH_LIMITS.filtersTotal}.`,
    );
  for (const f of filters.flat()) checkFilter(f, catalog);

  const limit = b.limit === undefined ? 10 : Number(b.limit);
  if (!Number.isInteger(limit) || limit < 0 || limit > SEARCH_LIMITS.pageMax)
    throw validationError(
      `limit must be an integer between 0 and ${SEARCH_LIMITS.pageMax}, got ${String(b.limit)}`,
    );
  const after = b.after === undefined || b.after === null || b.after === '' ? 0 : Number(b.after);
  if (!Number.isInteger(after) || after < 0)
    throw validationError(`after must be an offset formatted as an integer, got ${String(b.after)}`);
  if (after + limit > SEARCH_LIMITS.resultCap)
    throw validationError(
      `Paging beyond ${SEARCH_LIMITS.resultCap} results is not supported. after=${after}, limit=${limit}`,
    );

  const sorts = Array.isArray(b.sorts) ? (b.sorts as unknown[]) : [];
  if (sorts.length > 1) throw validationError('Only one sort is supported per search request.');
  let sort: Sort | undefined;
  if (sorts[0] !== undefined) {
    const s = sorts[0];
    if (typeof s === 'string')
      sort = { propertyName: s.replace(/^-/, ''), direction: s.startsWith('-') ? 'DESCENDING' : 'ASCENDING' };
    else {
      const o = s as Partial<Sort>;
      if (typeof o.propertyName !== 'string') throw validationError('A sort needs a propertyName.');
      sort = {
        propertyName: o.propertyName,
        direction: o.direction === 'DESCENDING' ? 'DESCENDING' : 'ASCENDING',
      };
    }
  }
  const query = b.query === undefined ? undefined : String(b.query);
  if (query && query.length > SEARCH_LIMITS.queryMax)
    throw validationError(`query is longer than ${SEARCH_LIMITS.queryMax} characters`);
  const properties = Array.isArray(b.properties) ? (b.properties as unknown[]).map(String) : undefined;
  return { filters, sort, query, properties, limit, after };
}

function checkFilter(f: Filter, catalog: PropertyCatalog): void {
  if (!f || typeof f.propertyName !== 'string') throw validationError('Each filter needs a propertyName.');
  if (!OPERATORS.includes(f.operator))
    throw validationError(`Unknown filter operator "${String(f.operator)}" for property ${f.propertyName}.`);
  if (!catalog.get(f.propertyName))
    throw validationError(`There was a problem with the request: property ${f.propertyName} does not exist.`);
  const needsValue = [
    'EQ',
    'NEQ',
    'LT',
    'LTE',
    'GT',
    'GTE',
    'BETWEEN',
    'CONTAINS_TOKEN',
    'NOT_CONTAINS_TOKEN',
  ];
  if (needsValue.includes(f.operator) && (f.value === undefined || f.value === null))
    throw validationError(`Filter ${f.propertyName} ${f.operator} requires a value.`);
  if (f.operator === 'BETWEEN' && (f.highValue === undefined || f.highValue === null))
    throw validationError(`Filter ${f.propertyName} BETWEEN requires a highValue.`);
  if ((f.operator === 'IN' || f.operator === 'NOT_IN') && !Array.isArray(f.values))
    throw validationError(`Filter ${f.propertyName} ${f.operator} requires values.`);
}

/** Comparable form of a value for the property's type: numbers and instants numerically, strings case-insensitively. */
function key(def: PropertyDef, raw: string): number | string {
  if (def.type === 'number') return Number(raw);
  if (def.type === 'datetime' || def.type === 'date') return parseInstant(raw) ?? NaN;
  return raw.toLowerCase();
}

const tokens = (s: string) =>
  s
    .toLowerCase()
    .split(/[^\p{L}\p{N}_@.]+/u)
    .filter(Boolean);
function tokenMatch(haystack: string, pattern: string): boolean {
  const re = new RegExp(
    `^${pattern
      .toLowerCase()
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
  return tokens(haystack).some((t) => re.test(t)) || re.test(haystack.toLowerCase());
}

/**
 * One filter against one object. NEQ and NOT_IN also match objects without the property (UNCERTAIN: HubSpot's
 * behaviour for empty values is not documented; this is the reading that surprises a caller least).
 */
function matches(f: Filter, def: PropertyDef, value: string | undefined): boolean {
  const has = value !== undefined && value !== '';
  switch (f.operator) {
    case 'HAS_PROPERTY':
      return has;
    case 'NOT_HAS_PROPERTY':
      return !has;
    case 'NEQ':
      return !has || key(def, value!) !== key(def, String(f.value));
    case 'NOT_IN':
      return !has || !(f.values ?? []).some((v) => key(def, String(v)) === key(def, value!));
    case 'NOT_CONTAINS_TOKEN':
      return !has || !tokenMatch(value!, String(f.value));
  }
  if (!has) return false;
  const v = key(def, value!);
  const target = key(def, String(f.value));
  switch (f.operator) {
    case 'EQ':
      return v === target;
    case 'LT':
      return v < target;
    case 'LTE':
      return v <= target;
    case 'GT':
      return v > target;
    case 'GTE':
      return v >= target;
    case 'BETWEEN':
      return v >= target && v <= key(def, String(f.highValue));
    case 'IN':
      return (f.values ?? []).some((x) => key(def, String(x)) === v);
    case 'CONTAINS_TOKEN':
      return tokenMatch(value!, String(f.value));
  }
  return false;
}

/** Text-searchable default properties per type, for `query`. */
const QUERY_PROPS = ['dealname', 'description', 'hs_task_subject', 'hs_task_body', 'hs_note_body'];

export function runSearch(
  req: SearchRequest,
  objects: StoredObject[],
  catalog: PropertyCatalog,
  value: (o: StoredObject, name: string) => string | undefined,
): { total: number; page: StoredObject[]; nextAfter?: string } {
  let hits = objects.filter(
    (o) =>
      req.filters.length === 0 ||
      req.filters.some((group) =>
        group.every((f) => matches(f, catalog.get(f.propertyName)!, value(o, f.propertyName))),
      ),
  );
  if (req.query) {
    const q = req.query;
    hits = hits.filter(
      (o) => QUERY_PROPS.some((p) => o.props.has(p) && tokenMatch(o.props.get(p)!, `${q}*`)) || o.id === q,
    );
  }
  const sortDef = req.sort ? catalog.get(req.sort.propertyName) : undefined;
  hits.sort((a, b) => {
    if (req.sort && sortDef) {
      const av = value(a, req.sort.propertyName);
      const bv = value(b, req.sort.propertyName);
      // Missing values sort last either way, as in HubSpot's UI.
      if (av === undefined || bv === undefined) {
        if (av !== bv) return av === undefined ? 1 : -1;
      } else {
        const ka = key(sortDef, av);
        const kb = key(sortDef, bv);
        if (ka !== kb) return (ka < kb ? -1 : 1) * (req.sort.direction === 'DESCENDING' ? -1 : 1);
      }
    }
    return Number(a.id) - Number(b.id);
  });
  const page = hits.slice(req.after, req.after + req.limit);
  const next = req.after + req.limit;
  return {
    total: hits.length,
    page,
    ...(next < hits.length && req.limit > 0 ? { nextAfter: String(next) } : {}),
  };
}
