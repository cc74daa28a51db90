import type { z } from 'zod';

/**
 * Turns zod issues into messages a care-ops admin can act on: where, what was expected, what was written.
 * zod's own messages ("Invalid input") are written for developers and never quote the offending value.
 */

type Issue = z.core.$ZodIssue;
type Segments = readonly PropertyKey[];
/** One step of an issue path: an object key or an array index. */
export type PathSegment = string | number;
export type MappedIssue = { segments: PathSegment[]; message: string; suggests?: PathSegment[] };

/** zod types path steps as PropertyKey; a playbook is plain data, so a symbol never occurs and reads as text. */
const segment = (k: PropertyKey): PathSegment => (typeof k === 'symbol' ? String(k) : k);

/**
 * An issue path as people read it, `pipelines[0].stages[3].sla.target`; keys that are not plain identifiers are
 * quoted in brackets. Only where a path is shown as text (the CLI, the local page's answer): errors carry the
 * segments, which the settings page places fields by.
 */
export function renderPlaybookPath(path: Segments): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else {
      const key = String(seg);
      out += /^[A-Za-z_$][\w$]*$/.test(key) ? (out ? `.${key}` : key) : `[${JSON.stringify(key)}]`;
    }
  }
  return out;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function valueAt(input: unknown, path: Segments): { found: boolean; value: unknown } {
  let v = input;
  for (const seg of path) {
    if (Array.isArray(v) && typeof seg === 'number' && seg < v.length) v = v[seg];
    else if (isRecord(v) && typeof seg === 'string' && Object.hasOwn(v, seg)) v = v[seg];
    else return { found: false, value: undefined };
  }
  return { found: true, value: v };
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null (an empty value)';
  if (typeof v === 'string')
    return v.length > 60 ? `${JSON.stringify(v.slice(0, 57))}...` : JSON.stringify(v);
  if (Array.isArray(v)) return v.length === 0 ? 'an empty list' : `a list of ${v.length}`;
  if (typeof v === 'object') return 'an object';
  return String(v);
}

const EXPECTED: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  array: 'a list',
  object: 'an object',
};
const expectedName = (e: string) => EXPECTED[e] ?? `a value of type ${e}`;
const literal = (v: unknown) => (typeof v === 'string' ? JSON.stringify(v) : String(v));
const oneOf = (values: readonly unknown[]) =>
  values.length === 1 ? literal(values[0]) : `one of ${values.map(literal).join(', ')}`;

// ---------------------------------------------------------------------------------------------------------
// Walking the schema alongside the input, to list the keys an object accepts.

type Def = {
  type: string;
  innerType?: Schema;
  in?: Schema;
  shape?: Record<string, Schema>;
  element?: Schema;
  options?: Schema[];
  discriminator?: string;
};
type Schema = { _zod: { def: unknown }; safeParse?: (v: unknown) => { success: boolean } };
const defOf = (s: Schema) => s._zod.def as Def;

function unwrap(s: Schema): Schema {
  for (let i = 0; i < 20; i++) {
    const def = defOf(s);
    const next = def.innerType ?? (def.type === 'pipe' ? def.in : undefined);
    if (!next) return s;
    s = next;
  }
  return s;
}

/** The union member the input was aiming at: by discriminator when there is one, else by object-ness. */
function pickOption(s: Schema, value: unknown): Schema | undefined {
  const def = defOf(s);
  const options = (def.options ?? []).map(unwrap);
  if (def.discriminator && isRecord(value)) {
    const disc = def.discriminator;
    const hit = options.find((o) => {
      const field = defOf(o).shape?.[disc];
      return field?.safeParse?.(value[disc]).success === true;
    });
    if (hit) return hit;
  }
  return options.find(
    (o) =>
      (defOf(o).type === 'object') === isRecord(value) &&
      (defOf(o).type === 'array') === Array.isArray(value),
  );
}

function schemaAt(root: Schema, path: Segments, input: unknown): Schema | undefined {
  let s: Schema | undefined = root;
  let v = input;
  const resolve = (x: Schema, value: unknown) => {
    const u = unwrap(x);
    return defOf(u).type === 'union' ? pickOption(u, value) : u;
  };
  for (const seg of path) {
    s = resolve(s, v);
    if (!s) return undefined;
    const def = defOf(s);
    if (def.type === 'object' && typeof seg === 'string') s = def.shape?.[seg];
    else if (def.type === 'array' && typeof seg === 'number') s = def.element;
    else return undefined;
    if (!s) return undefined;
    v = valueAt(v, [seg]).value;
  }
  return resolve(s, v);
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

/** owner_role vs ownerRole, or a small typo: the key the author most likely meant. */
function closestKey(key: string, allowed: string[]): string | undefined {
  const norm = (k: string) => k.toLowerCase().replace(/[_-]/g, '');
  const n = norm(key);
  return (
    allowed.find((a) => norm(a) === n) ??
    allowed.find((a) => editDistance(a, key) <= 2) ??
    // "monday" for "mon", "calendarId" for "calendar".
    allowed.find((a) => a.length >= 3 && n.startsWith(norm(a)))
  );
}

// ---------------------------------------------------------------------------------------------------------

function mapIssue(issue: Issue, input: unknown, root: Schema, prefix: PathSegment[]): MappedIssue[] {
  const segments = [...prefix, ...issue.path.map(segment)];
  const { found, value } = valueAt(input, segments);
  const got = describe(value);
  const one = (message: string): MappedIssue[] => [{ segments, message }];
  // A key that is simply absent reads better as "missing" than as "got nothing".
  const expectation = (what: string) =>
    found ? `expected ${what}, got ${got}` : `missing: expected ${what}`;

  switch (issue.code) {
    case 'invalid_type': {
      const quoteHint =
        issue.expected === 'string' && (typeof value === 'number' || typeof value === 'boolean')
          ? ` (write it in quotes: "${String(value)}")`
          : '';
      if (segments.length === 0) return one(`expected the playbook to be an object, got ${got}`);
      return one(expectation(expectedName(issue.expected)) + quoteHint);
    }
    case 'invalid_value':
      return one(expectation(oneOf(issue.values)));
    case 'unrecognized_keys': {
      const target = schemaAt(root, segments, input);
      const shape = target && defOf(target).type === 'object' ? defOf(target).shape : undefined;
      const allowed = shape ? Object.keys(shape) : undefined;
      return issue.keys.map((key) => {
        if (!allowed) return { segments: [...segments, key], message: `unknown key "${key}"` };
        const close = closestKey(key, allowed);
        return {
          segments: [...segments, key],
          message: `unknown key "${key}"${close ? ` (did you mean "${close}"?)` : ''}; allowed here: ${allowed.join(', ')}`,
          ...(close ? { suggests: [...segments, close] } : {}),
        };
      });
    }
    case 'invalid_union': {
      if (issue.discriminator !== undefined && 'options' in issue && issue.options) {
        return one(expectation(oneOf(issue.options)));
      }
      // When exactly one branch got past the type check, its own complaints (unknown keys included) are the
      // useful ones; the other branches only say "not a string".
      const typeMismatch = (i: Issue) =>
        i.path.length === 0 && (i.code === 'invalid_type' || i.code === 'invalid_value');
      const deep = issue.errors.filter((branch) => branch.length > 0 && !branch.some(typeMismatch));
      if (deep.length === 1) return deep[0]!.flatMap((i) => mapIssue(i, input, root, segments));
      const alternatives = issue.errors.flatMap((branch) =>
        branch
          .filter((i) => i.path.length === 0)
          .flatMap((i) =>
            i.code === 'invalid_value'
              ? i.values.map(literal)
              : i.code === 'invalid_type'
                ? [expectedName(i.expected)]
                : [],
          ),
      );
      const unique = [...new Set(alternatives)];
      return one(unique.length ? expectation(unique.join(' or ')) : `${issue.message}, got ${got}`);
    }
    case 'too_small':
    case 'too_big': {
      const small = issue.code === 'too_small';
      const bound = Number(
        small
          ? (issue as { minimum: number | bigint }).minimum
          : (issue as { maximum: number | bigint }).maximum,
      );
      const inclusive = issue.inclusive !== false;
      if (issue.origin === 'array' || issue.origin === 'set') {
        const n = Array.isArray(value) ? value.length : 0;
        const items = `${bound} item${bound === 1 ? '' : 's'}`;
        return one(`expected at ${small ? 'least' : 'most'} ${items}, got ${n === 0 ? 'none' : n}`);
      }
      if (issue.origin === 'string') {
        if (small && bound === 1) return one(`expected a non-empty string, got ${got}`);
        const n = typeof value === 'string' ? value.length : 0;
        return one(`expected at ${small ? 'least' : 'most'} ${bound} characters, got ${n}`);
      }
      const op = small ? (inclusive ? '>=' : '>') : inclusive ? '<=' : '<';
      return one(`expected a number ${op} ${bound}, got ${got}`);
    }
    case 'invalid_format':
    case 'custom': {
      // Schema messages that state an expectation ("expected an IANA time zone ...") get the value appended;
      // cross-reference messages already name what they found.
      const msg = issue.message;
      if (/^expected /.test(msg) && !/, got /.test(msg))
        return one(found ? `${msg}, got ${got}` : `missing: ${msg}`);
      return one(msg);
    }
    default:
      return one(found ? `${issue.message}, got ${got}` : issue.message);
  }
}

/**
 * Maps every issue (one issue may become several errors, e.g. several unknown keys) and drops exact repeats.
 * A misspelt key also shows up as the real key missing; the "did you mean" error already says it all.
 */
export function issuesToErrors(issues: readonly Issue[], input: unknown, root: Schema): MappedIssue[] {
  const mapped = issues.flatMap((i) => mapIssue(i, input, root, []));
  const pathKey = (segments: readonly PathSegment[]) => JSON.stringify(segments);
  const suggested = new Set(mapped.flatMap((e) => (e.suggests ? [pathKey(e.suggests)] : [])));
  const seen = new Set<string>();
  return mapped.filter((e) => {
    const path = pathKey(e.segments);
    if (suggested.has(path) && e.message.startsWith('missing:')) return false;
    const key = `${path}\u0000${e.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
