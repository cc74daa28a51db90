// Usage: node bundle.mjs <outDir>
// Bundles every UI extension entrypoint the way `hs project upload` does (ui-extensions-dev-server's
// vite build), so a bad import or raw HTML element fails here. Output goes to <outDir>, never the repo.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSingleExtension } from '@hubspot/ui-extensions-dev-server/build';

const srcDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outDir = path.resolve(process.argv[2] ?? fail('usage: node bundle.mjs <outDir>'));

function fail(message) {
  console.error(message);
  process.exit(1);
}

function entrypoints() {
  const found = [];
  for (const feature of ['cards', 'settings', 'pages']) {
    const dir = path.join(srcDir, 'app', feature);
    for (const f of fs.readdirSync(dir).filter((f) => f.endsWith('-hsmeta.json'))) {
      const entry = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')).config?.entrypoint;
      if (entry) found.push({ feature, file: path.join(srcDir, entry) });
    }
  }
  return found;
}

const results = [];
for (const { feature, file } of entrypoints()) {
  const out = path.join(outDir, feature);
  await buildSingleExtension({
    file,
    outputDir: out,
    root: path.dirname(file),
    logLevel: 'silent',
    emptyOutDir: true,
  });
  const js = path.join(out, path.basename(file).replace(/\.(t|j)sx$/, '.js'));
  if (!fs.existsSync(js)) fail(`${feature}: no bundle at ${js}`);
  results.push({
    feature,
    bundle: path.relative(outDir, js),
    bytes: fs.statSync(js).size,
    files: fs.readdirSync(out),
  });
}
console.log(JSON.stringify(results));
