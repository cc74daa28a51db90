import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  EXAMPLE_PLAYBOOKS,
  parsePlaybook,
  PlaybookError,
  type PlaybookParseResult,
} from '@stagekeeper/shared';

/**
 * Text-level fuzzing of the playbook loader (the structured mutations live in shared's load.property.test.ts):
 * byte edits of real playbooks, random YAML/JSON documents and hostile YAML. The loader must never throw, and
 * every rejection must say where (a path) or be about the document as a whole (empty path, non-mapping root or
 * a syntax error with a line).
 */

const sources = Object.values(EXAMPLE_PLAYBOOKS).map((file) => readFileSync(file, 'utf8'));
const isMapping = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);

/** What the document decodes to, if it decodes: errors about a mapping's content must carry a path. */
function decoded(text: string): { ok: boolean; value?: unknown } {
  try {
    return {
      ok: true,
      value: /^\s*[{[]/.test(text)
        ? JSON.parse(text)
        : parse(text, { uniqueKeys: true, maxAliasCount: 1000, logLevel: 'silent' }),
    };
  } catch {
    return { ok: false };
  }
}

function check(text: string): PlaybookParseResult {
  let result: PlaybookParseResult;
  expect(() => (result = parsePlaybook(text))).not.toThrow();
  result = result!;
  if (result.ok) return result;
  expect(result.errors.length).toBeGreaterThan(0);
  const lines = text.split('\n').length;
  const doc = decoded(text);
  for (const e of result.errors) {
    expect(PlaybookError.safeParse(e).success, JSON.stringify(e)).toBe(true);
    expect(e.message.trim()).not.toBe('');
    if (e.line !== undefined) expect(e.line).toBeLessThanOrEqual(lines + 1);
    if (e.path.length === 0) {
      // Top-level messages: syntax errors, an empty document, or a root that is not a mapping.
      const topLevel = !doc.ok || !isMapping(doc.value) || /syntax|YAML|JSON|empty/i.test(e.message);
      expect(topLevel, `pathless error for a mapping: ${e.message}`).toBe(true);
    }
  }
  return result;
}

const edit = fc.record({
  at: fc.nat(),
  remove: fc.nat({ max: 40 }),
  insert: fc.oneof(
    fc.string({ maxLength: 12 }),
    fc.constantFrom(
      ':',
      '- ',
      '  ',
      '\n',
      '{',
      '}',
      '[',
      ']',
      '"',
      "'",
      '&a ',
      '*a',
      '!!binary ',
      '? ',
      '|',
      '>',
      '#',
      '\t',
      'null',
      '~',
      '1e400',
      '-0',
      '"\\u0000"',
    ),
  ),
});

describe('parsePlaybook under text fuzzing', () => {
  it('byte edits of the example playbooks: never a crash, every error located', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: sources.length - 1 }),
        fc.array(edit, { minLength: 1, maxLength: 6 }),
        fc.boolean(),
        (which, edits, asJson) => {
          let text = asJson ? JSON.stringify(parse(sources[which]!), null, 1) : sources[which]!;
          for (const e of edits) {
            const at = e.at % (text.length + 1);
            text = text.slice(0, at) + e.insert + text.slice(at + e.remove);
          }
          check(text);
        },
      ),
      { numRuns: 300, seed: 61 },
    );
  });

  it('random documents: never a crash, every error located', () => {
    const doc = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? ''),
      fc
        .dictionary(
          fc.constantFrom(
            'schemaVersion',
            'name',
            'version',
            'calendars',
            'roles',
            'pipelines',
            'signals',
            'extra',
          ),
          fc.jsonValue({ maxDepth: 3 }),
        )
        .map((o) => JSON.stringify(o)),
    );
    fc.assert(
      fc.property(doc, (text) => void check(text)),
      { numRuns: 500, seed: 62 },
    );
  });

  it('hostile YAML: alias bombs, deep nesting, duplicate keys, odd scalars', () => {
    const bomb = [
      'a: &a ["x","x","x","x","x","x","x","x","x"]',
      ...Array.from(
        { length: 9 },
        (_, i) =>
          `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)}]`,
      ),
    ].join('\n');
    const cases = [
      bomb,
      `${'['.repeat(5_000)}${']'.repeat(5_000)}`,
      `${'{"a":'.repeat(3_000)}1${'}'.repeat(3_000)}`,
      'schemaVersion: 1\nschemaVersion: 2\n',
      'pipelines: !!binary aGVsbG8=\n',
      'schemaVersion: 1e400\nname: .nan\n',
      '---\nschemaVersion: 1\n---\nname: two\n',
      '\u0000\u0001\u0002',
      '\ufeff{"schemaVersion": 1}',
      'pipelines:\n  - id: x\n    stages: *undefined_alias\n',
      '"__proto__": {"polluted": true}\nconstructor: {prototype: {x: 1}}\n',
    ];
    for (const text of cases) check(text);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
