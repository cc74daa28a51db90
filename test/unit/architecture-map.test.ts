import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// docs/architecture.md is the newcomer's map (issue #10): one line per source file. These checks keep it true as
// files move: every source file is named there, and every file it names exists.
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const MAPPED = ['sync-service/src', 'shared/src'];
const SOURCE = /\.(ts|tsx)$/;
const TEST = /\.test\.tsx?$/;

function files(dir: string): string[] {
  return readdirSync(join(REPO, dir)).flatMap((name) => {
    const path = join(dir, name);
    if (name === 'node_modules') return [];
    return statSync(join(REPO, path)).isDirectory() ? files(path) : [path];
  });
}

const doc = readFileSync(join(REPO, 'docs/architecture.md'), 'utf8');
/** Backticked tokens that name a source file (`queue/ingest.ts`, `settle.ts`), as written in the doc. */
const named = [...doc.matchAll(/`([\w./-]+\.tsx?)`/g)].map((m) => m[1]!);
/** Bare file names in the flow diagram's code block. */
const diagram = [...doc.matchAll(/```[\s\S]*?```/g)].flatMap((block) =>
  [...block[0].matchAll(/[\w/.-]+\/[\w.-]+\.ts\b/g)].map((m) => m[0]),
);
const tracked = ['sync-service', 'shared', 'test', 'hubspot-app']
  .flatMap((dir) => files(dir))
  .map((f) => relative(REPO, join(REPO, f)));

/** A doc token names a file when it is the file's path or a tail of it at a folder boundary. */
const names = (token: string, file: string) => file === token || file.endsWith(`/${token}`);

describe('docs/architecture.md', () => {
  it('names every source file of the service and the shared core', () => {
    const sources = MAPPED.flatMap((dir) => files(dir)).filter((f) => SOURCE.test(f) && !TEST.test(f));
    expect(sources.length).toBeGreaterThan(100);
    const unlisted = sources.filter((f) => !named.some((t) => names(t, f)));
    expect(unlisted, 'add one line for each to docs/architecture.md').toEqual([]);
  });

  it('names no file that does not exist', () => {
    const gone = [...named, ...diagram].filter((t) => !tracked.some((f) => names(t, f)));
    expect(gone, 'a file the map names was moved or deleted').toEqual([]);
  });
});
