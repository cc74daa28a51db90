// Usage: node --import ./register.mjs validate.mjs <projectDir>...
// Runs project-parsing-lib's full validation against schema-stub.mjs, then checks what upload would
// also need: no skipped hsmeta files and every entrypoint present. Prints one JSON line per project
// ({dir, ok, components} or {dir, ok:false, error}); exits 1 if any project fails. Several projects
// per run because loading the library costs more than validating.
import fs from 'node:fs';
import path from 'node:path';
import { parseProjectConfig } from '@hubspot/project-parsing-lib/projects';
import { translate, isTranslationError } from '@hubspot/project-parsing-lib/translate';

async function validate(dir) {
  const cfg = parseProjectConfig(dir);
  const srcDir = path.join(dir, cfg.srcDir);
  const r = await translate({ projectSourceDir: srcDir, platformVersion: cfg.platformVersion, accountId: 1 });
  if (r.skippedHsMetaFiles.length)
    throw new Error(`hsmeta files HubSpot would skip: ${r.skippedHsMetaFiles.join(', ')}`);
  const nodes = Object.values(r.intermediateRepresentation.intermediateNodesIndexedByUid);
  for (const n of nodes) {
    const entry = n.config?.entrypoint;
    if (entry && !fs.existsSync(path.join(srcDir, entry)))
      throw new Error(`${n.uid}: entrypoint ${entry} does not exist`);
  }
  return { platformVersion: cfg.platformVersion, components: nodes.map((n) => [n.uid, n.componentType]) };
}

const dirs = process.argv.slice(2).map((d) => path.resolve(d));
if (dirs.length === 0) dirs.push(process.cwd());
let failed = false;
for (const dir of dirs) {
  try {
    console.log(JSON.stringify({ dir, ok: true, ...(await validate(dir)) }));
  } catch (e) {
    failed = true;
    const error = isTranslationError(e) ? e.toString() : e instanceof Error ? e.message : String(e);
    console.log(JSON.stringify({ dir, ok: false, error }));
  }
}
process.exit(failed ? 1 : 0);
