// `npm run build`: the service and the CLI as plain JavaScript (sync-service/dist/main.js, dist/cli.js), so
// production runs `node` without compiling TypeScript at start (tsx costs seconds per CLI call). The workspace
// packages (@stagekeeper/*) are TypeScript sources and go into the bundle; everything from node_modules stays an
// import, installed as usual (`npm ci --omit=dev` is enough at run time).
// Type errors are `npm run typecheck`'s business (and `npm test`'s); this only translates.
import { build } from 'esbuild';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
// `--outdir DIR` builds elsewhere (the build test does, into a temp dir).
const at = process.argv.indexOf('--outdir');
const outdir = path.resolve(at > 0 ? process.argv[at + 1] : path.join(here, 'dist'));

/** npm packages stay external; our own workspace packages (TypeScript) are bundled. */
const externalPackages = {
  name: 'external-packages',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) =>
      args.path.startsWith('@stagekeeper/') || args.path.startsWith('node:')
        ? undefined
        : { path: args.path, external: true },
    );
  },
};

/**
 * A source file that finds data beside itself (shared/playbooks via `new URL('../../playbooks/…', import.meta.url)`)
 * keeps finding it from the bundle: its import.meta.url becomes its own location, computed from the bundle's.
 * Except worker-thread.ts, which looks for the built worker thread's entry beside the bundle.
 */
const BUNDLE_RELATIVE = new Set([path.join(here, 'src', 'worker-thread.ts')]);
const keepFileUrls = {
  name: 'keep-file-urls',
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      if (!source.includes('import.meta.url') || BUNDLE_RELATIVE.has(args.path)) return undefined;
      const rel = path.relative(outdir, args.path).split(path.sep).join('/');
      return {
        contents: source.replaceAll(
          'import.meta.url',
          `new URL(${JSON.stringify(rel)}, import.meta.url).href`,
        ),
        loader: 'ts',
      };
    });
  },
};

await build({
  entryPoints: {
    main: path.join(here, 'src/main.ts'),
    cli: path.join(here, 'src/cli.ts'),
    // SERVICE_ROLE=all's worker thread (worker-thread.ts starts it from beside main.js).
    'worker-thread-entry': path.join(here, 'src/worker-thread-entry.ts'),
  },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  // Sandbox-only code (the embedded portal) is loaded lazily by main; it stays a separate chunk. Chunks sit beside the entry points (keepFileUrls counts from outdir).
  chunkNames: '[name]-[hash]',
  plugins: [externalPackages, keepFileUrls],
  logLevel: 'warning',
});
process.stdout.write(
  `built ${path.relative(process.cwd(), outdir) || '.'}/main.js, cli.js and worker-thread-entry.js\n`,
);
