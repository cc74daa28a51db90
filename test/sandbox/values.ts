import type { PropertyCatalog, PropertyDef } from './catalog';
import type { PropertyProblem } from './errors';

/** Properties whose allowed values live outside the property definition (pipelines, owners). */
export type ExternalOptions = {
  isOwner: (id: string) => boolean;
  isPipeline: (id: string) => boolean;
  isStage: (id: string) => boolean;
};

const MS_IN_DAY = 86_400_000;

/** Epoch ms or ISO → epoch ms; undefined when HubSpot would not parse it. */
export function parseInstant(raw: string): number | undefined {
  if (/^-?\d+$/.test(raw)) return Number(raw);
  if (!/^\d{4}-\d{2}-\d{2}/.test(raw)) return undefined;
  const ms = Date.parse(raw);
  return Number.isNaN(ms) ? undefined : ms;
}

function describeOptions(def: PropertyDef): string {
  return `[${def.options.map((o) => o.value).join(', ')}]`;
}

/**
 * Turns one incoming value into HubSpot's stored string form, or explains why HubSpot would refuse it.
 * null / "" clear the property, as in HubSpot.
 */
function normalizeOne(
  def: PropertyDef,
  value: unknown,
  ext: ExternalOptions,
): { value: string | null } | PropertyProblem {
  if (value === null || value === '') return { value: null };
  if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean')
    return {
      name: def.name,
      message: `${JSON.stringify(value)} is not a valid value for ${def.name}`,
      error: 'INVALID_VALUE',
    };
  const raw = String(value);
  switch (def.type) {
    case 'number': {
      const trimmed = raw.trim();
      if (!/^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(trimmed) || !Number.isFinite(Number(trimmed)))
        return { name: def.name, message: `${raw} was not a valid number.`, error: 'INVALID_FLOAT' };
      return { value: trimmed };
    }
    case 'datetime': {
      const ms = parseInstant(raw.trim());
      if (ms === undefined)
        return { name: def.name, message: `${raw} was not a valid long.`, error: 'INVALID_LONG' };
      return { value: new Date(ms).toISOString() };
    }
    case 'date': {
      const ms = parseInstant(raw.trim());
      if (ms === undefined)
        return { name: def.name, message: `${raw} was not a valid date.`, error: 'INVALID_DATE' };
      const rest = ((ms % MS_IN_DAY) + MS_IN_DAY) % MS_IN_DAY;
      if (rest !== 0) {
        const d = new Date(rest);
        return {
          name: def.name,
          message: `${raw} is at ${d.getUTCHours()}:${d.getUTCMinutes()}:${d.getUTCSeconds()}.${d.getUTCMilliseconds()} UTC, not midnight!`,
          error: 'INVALID_DATE',
        };
      }
      return { value: new Date(ms).toISOString().slice(0, 10) };
    }
    case 'bool': {
      const lower = raw.toLowerCase();
      if (lower !== 'true' && lower !== 'false')
        return { name: def.name, message: `${raw} was not a valid boolean.`, error: 'INVALID_BOOLEAN' };
      return { value: lower };
    }
    case 'enumeration': {
      const parts = def.fieldType === 'checkbox' ? raw.split(';') : [raw];
      const allowed = (v: string) => {
        if (def.name === 'hubspot_owner_id') return ext.isOwner(v);
        if (def.name === 'pipeline') return ext.isPipeline(v);
        if (def.name === 'dealstage') return ext.isStage(v);
        if (def.externalOptions) return true;
        return def.options.some((o) => o.value === v);
      };
      const bad = parts.find((p) => !allowed(p));
      if (bad !== undefined)
        return {
          name: def.name,
          message: def.externalOptions
            ? `${bad} was not one of the allowed options for ${def.name}`
            : `${bad} was not one of the allowed options: ${describeOptions(def)}`,
          error: 'INVALID_OPTION',
        };
      return { value: raw };
    }
    default: {
      if (raw.length > 65_536)
        return {
          name: def.name,
          message: `Value for ${def.name} is longer than 65536 characters.`,
          error: 'INVALID_STRING_LENGTH',
        };
      return { value: raw };
    }
  }
}

export type NormalizedWrite = { values: Record<string, string | null>; problems: PropertyProblem[] };

/**
 * Validates a whole `properties` object against the catalog. Unknown names and read-only names are refused,
 * never dropped: silently ignoring them would let a typo in the service pass every test.
 */
export function normalizeWrite(
  catalog: PropertyCatalog,
  input: unknown,
  ext: ExternalOptions,
  opts: { allowReadOnly?: readonly string[] } = {},
): NormalizedWrite {
  const values: Record<string, string | null> = {};
  const problems: PropertyProblem[] = [];
  if (input === undefined) return { values, problems };
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    problems.push({
      name: 'properties',
      message: 'properties must be an object of name → string value',
      error: 'INVALID_VALUE',
    });
    return { values, problems };
  }
  for (const [name, value] of Object.entries(input)) {
    const def = catalog.get(name);
    if (!def || def.archived) {
      problems.push({ name, message: `Property "${name}" does not exist`, error: 'PROPERTY_DOESNT_EXIST' });
      continue;
    }
    if (def.modificationMetadata.readOnlyValue && !opts.allowReadOnly?.includes(name)) {
      problems.push({
        name,
        message: `"${name}" is a read only property; its value cannot be set.`,
        error: 'READ_ONLY_VALUE',
      });
      continue;
    }
    const r = normalizeOne(def, value, ext);
    if ('error' in r) problems.push(r);
    else values[name] = r.value;
  }
  return { values, problems };
}
