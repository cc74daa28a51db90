import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { issuesToErrors, renderPlaybookPath } from './issues';
import { yamlLineOf } from './yaml-lines';
import { Playbook } from './schema';

/**
 * Pure playbook parsing: text in, a validated playbook or path-precise errors out. No file system here, so
 * the same code can validate a draft pasted into the settings page; `load-file.ts` adds the disk.
 */

/** A schema so the service can hand validation errors to the settings page over HTTP unchanged. */
export const PlaybookError = z.object({
  /**
   * Where in the playbook, as zod's path: `['pipelines', 0, 'stages', 3, 'sla', 'target']`; empty for the document
   * as a whole. Kept as segments so the settings page can place an error by field; shown as text only at the edge
   * (`renderPlaybookPath`, `formatPlaybookErrors`).
   */
  path: z.array(z.union([z.string(), z.number()])),
  message: z.string().min(1),
  /** 1-based line in the source text, when it could be traced back. */
  line: z.number().int().positive().optional(),
  /** File name or other label the text came from. */
  source: z.string().optional(),
});
export type PlaybookError = z.infer<typeof PlaybookError>;

export { renderPlaybookPath, type PathSegment } from './issues';

export type PlaybookParseResult = { ok: true; playbook: Playbook } | { ok: false; errors: PlaybookError[] };

export type PlaybookFormat = 'yaml' | 'json' | 'auto';

function detectFormat(text: string, sourceName?: string): 'yaml' | 'json' {
  if (sourceName && /\.json$/i.test(sourceName)) return 'json';
  if (sourceName && /\.ya?ml$/i.test(sourceName)) return 'yaml';
  // JSON is nearly a subset of YAML, but JSON.parse reports JSON mistakes far more plainly.
  return /^\s*[{[]/.test(text) ? 'json' : 'yaml';
}

const lineAtOffset = (text: string, offset: number) => text.slice(0, offset).split('\n').length;

type Decoded =
  | { ok: true; value: unknown; lineOf: (path: readonly PropertyKey[]) => number | undefined }
  | { ok: false; errors: PlaybookError[] };

function decodeYaml(text: string): Decoded {
  const lineCounter = new LineCounter();
  // prettyErrors off: its messages carry a multi-line code frame, and the CLI wants one line per error.
  // logLevel 'silent': the library would print warnings (e.g. an unknown !tag) to stderr; they are reported
  // as errors below instead, because a playbook never needs a custom tag and a typo there changes meaning.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, logLevel: 'silent' });
  const problems = [
    ...doc.errors.map((e) => ({ e, kind: 'YAML syntax error' })),
    ...doc.warnings.map((e) => ({ e, kind: 'YAML error' })),
  ];
  if (problems.length > 0) {
    return {
      ok: false,
      errors: problems.map(({ e, kind }) => ({
        path: [],
        message: `${kind}: ${e.message}`,
        line: lineCounter.linePos(e.pos[0]).line,
      })),
    };
  }
  try {
    return {
      ok: true,
      value: doc.toJS({ maxAliasCount: 1000 }),
      lineOf: (path) => yamlLineOf(doc, lineCounter, path),
    };
  } catch (e) {
    // toJS throws on alias bombs and similar; those are input errors, not crashes.
    return { ok: false, errors: [{ path: [], message: `YAML error: ${(e as Error).message}` }] };
  }
}

function decodeJson(text: string): Decoded {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    const message = (e as Error).message;
    const pos = /position (\d+)/.exec(message);
    const clean = message.replace(/\s*in JSON at position \d+.*$/s, '');
    return {
      ok: false,
      errors: [
        {
          path: [],
          message: `JSON syntax error: ${clean}`,
          ...(pos ? { line: lineAtOffset(text, Number(pos[1])) } : {}),
        },
      ],
    };
  }
  // Valid JSON is valid YAML here, and the YAML AST knows where every node starts. Built only once an error
  // needs a line: a valid playbook never pays for the second parse.
  let lines: Decoded | undefined;
  const lineOf = (path: readonly PropertyKey[]) => {
    lines ??= decodeYaml(text);
    return lines.ok ? lines.lineOf(path) : undefined;
  };
  return { ok: true, value, lineOf };
}

/** Validates playbook text. Never throws: every problem, syntax included, comes back as an error. */
export function parsePlaybook(
  text: string,
  format: PlaybookFormat = 'auto',
  sourceName?: string,
): PlaybookParseResult {
  const tag = (errors: PlaybookError[]): PlaybookParseResult => ({
    ok: false,
    errors: sourceName === undefined ? errors : errors.map((e) => ({ ...e, source: sourceName })),
  });
  if (text.trim() === '') return tag([{ path: [], message: 'expected a playbook, got an empty document' }]);
  const decoded =
    (format === 'auto' ? detectFormat(text, sourceName) : format) === 'json'
      ? decodeJson(text)
      : decodeYaml(text);
  if (!decoded.ok) return tag(decoded.errors);

  const result = validatePlaybook(decoded.value, decoded.lineOf);
  return result.ok ? result : tag(result.errors);
}

/**
 * Validates an already-decoded value (e.g. a JSON request body) with the same messages as `parsePlaybook`.
 * `lineOf` maps an error path to a source line when the caller still has the text.
 */
export function validatePlaybook(
  value: unknown,
  lineOf: (path: readonly PropertyKey[]) => number | undefined = () => undefined,
): PlaybookParseResult {
  const result = Playbook.safeParse(value);
  if (result.success) return { ok: true, playbook: result.data };
  const errors = issuesToErrors(result.error.issues, value, Playbook).map((e) => {
    const line = lineOf(e.segments);
    return { path: e.segments, message: e.message, ...(line !== undefined ? { line } : {}) };
  });
  // zod reports structure before cross-references; an author fixing a file top to bottom wants line order.
  return { ok: false, errors: errors.sort((a, b) => (a.line ?? 0) - (b.line ?? 0)) };
}

/** One line per error, `file:line: path: message`, for terminals and CI logs. */
export function formatPlaybookErrors(errors: readonly PlaybookError[], sourceName?: string): string {
  return errors
    .map((e) => {
      const where = `${e.source ?? sourceName ?? 'playbook'}${e.line !== undefined ? `:${e.line}` : ''}`;
      return `${where}: ${e.path.length > 0 ? `${renderPlaybookPath(e.path)}: ` : ''}${e.message}`;
    })
    .join('\n');
}
