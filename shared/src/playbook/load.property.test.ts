import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { EXAMPLE_PLAYBOOKS } from './examples';
import { parsePlaybook, PlaybookError, renderPlaybookPath } from './load';

type Path = (string | number)[];
type Mutation = { kind: 'delete' } | { kind: 'replace'; value: unknown };

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Every node's path, root included, in a stable order. */
function allPaths(v: unknown, at: Path = []): Path[] {
  const children = Array.isArray(v)
    ? v.flatMap((x, i) => allPaths(x, [...at, i]))
    : isRecord(v)
      ? Object.keys(v).flatMap((k) => allPaths(v[k], [...at, k]))
      : [];
  return [at, ...children];
}

function mutate(doc: unknown, path: Path, m: Mutation): unknown {
  if (path.length === 0) return m.kind === 'delete' ? undefined : m.value;
  const parent = path.slice(0, -1).reduce<any>((node, seg) => node[seg], doc);
  const last = path.at(-1)!;
  if (m.kind === 'replace') parent[last] = m.value;
  else if (Array.isArray(parent)) parent.splice(last as number, 1);
  else delete parent[last];
  return doc;
}

const valid = parse(readFileSync(EXAMPLE_PLAYBOOKS.telehealth, 'utf8')) as unknown;

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.constant({ kind: 'delete' as const }),
  fc.jsonValue({ maxDepth: 3 }).map((value) => ({ kind: 'replace' as const, value })),
);

describe('parsePlaybook under random mutations of a valid playbook', () => {
  it('never throws; every error has a message and a path unless the whole document is wrong', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(), mutation), { minLength: 1, maxLength: 3 }),
        fc.boolean(),
        (mutations, asYaml) => {
          let doc: unknown = structuredClone(valid);
          for (const [n, m] of mutations) {
            const paths = allPaths(doc);
            doc = mutate(doc, paths[n % paths.length]!, m);
          }
          const text = doc === undefined ? '' : asYaml ? stringify(doc) : JSON.stringify(doc);
          const result = parsePlaybook(text, asYaml ? 'yaml' : 'json');
          if (result.ok) return;
          expect(result.errors.length).toBeGreaterThan(0);
          const lineCount = text.split('\n').length;
          for (const e of result.errors) {
            expect(PlaybookError.safeParse(e).success).toBe(true);
            expect(e.message.trim()).not.toBe('');
            // Only a document that is not an object at all earns an error without a path.
            if (e.path.length === 0) expect(isRecord(doc)).toBe(false);
            if (e.line !== undefined) expect(e.line).toBeLessThanOrEqual(lineCount);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('finds something wrong when a required key is deleted anywhere', () => {
    // Required keys of every role: deleting any one of them must be reported at exactly that path.
    const roles = (valid as { roles: Record<string, unknown>[] }).roles;
    fc.assert(
      fc.property(fc.nat(roles.length - 1), fc.constantFrom('id', 'name', 'lead'), (i, key) => {
        const doc = structuredClone(valid) as { roles: Record<string, unknown>[] };
        delete doc.roles[i]![key];
        const r = parsePlaybook(JSON.stringify(doc), 'json');
        expect(r.ok ? [] : r.errors.map((e) => renderPlaybookPath(e.path))).toContain(`roles[${i}].${key}`);
      }),
      { numRuns: 30 },
    );
  });
});
