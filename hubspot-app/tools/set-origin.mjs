#!/usr/bin/env node
// Usage: npm run app:set-origin -- https://stagekeeper.your-org.com [--app-dir hubspot-app/app]
// Points the HubSpot app at the service's public origin (the service's PUBLIC_URL) everywhere HubSpot needs it:
// the UI extensions' SERVICE_URL (packages/client/src/config.ts, which the card, settings and app pages share),
// the app's fetch allow-list, OAuth redirect URL and support links (app-hsmeta.json) and the webhook target
// (webhooks-hsmeta.json). It replaces whatever origin is there now, so it can be run again to move. Plain text
// edits: files keep their formatting, and project.test.ts checks the result agrees.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const FILES = ['packages/client/src/config.ts', 'app-hsmeta.json', 'webhooks/webhooks-hsmeta.json'];

/** The origin HubSpot will call, or a one-line reason it cannot be one. */
export function parseOrigin(input) {
  let url;
  try {
    url = new URL(input);
  } catch {
    return { error: `"${input}" is not a URL: expected https://host[:port]` };
  }
  if (url.protocol !== 'https:')
    return { error: `HubSpot calls apps over HTTPS only: expected https://, got ${url.protocol}//` };
  if (url.pathname !== '/' || url.search || url.hash || url.username)
    return {
      error:
        'expected an origin only (https://host[:port]): HubSpot allow-lists origins, and the app adds the paths',
    };
  return { origin: url.origin };
}

/** Sets `origin` in the app folder; returns the files it changed. Throws when the current origin cannot be read. */
export function setOrigin(appDir, origin) {
  const current = /SERVICE_URL = '([^']+)'/.exec(fs.readFileSync(path.join(appDir, FILES[0]), 'utf8'))?.[1];
  if (!current) throw new Error(`no SERVICE_URL in ${path.join(appDir, FILES[0])}`);
  const changed = [];
  for (const rel of FILES) {
    const file = path.join(appDir, rel);
    const before = fs.readFileSync(file, 'utf8');
    if (!before.includes(current))
      throw new Error(`${file} does not name the current origin ${current}: fix it by hand first`);
    // Only whole origins: "https://a.com" must not match inside "https://a.com.evil".
    const after = before.replace(
      new RegExp(`${current.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?=[/'"])`, 'g'),
      origin,
    );
    if (after !== before) {
      fs.writeFileSync(file, after);
      changed.push(rel);
    }
  }
  return { from: current, changed };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--app-dir');
  const appDir =
    at >= 0 ? path.resolve(args[at + 1] ?? '') : fileURLToPath(new URL('../app', import.meta.url));
  const input = args.filter((_, i) => at < 0 || (i !== at && i !== at + 1))[0];
  if (!input) {
    process.stderr.write('usage: npm run app:set-origin -- https://stagekeeper.your-org.com\n');
    process.exit(2);
  }
  const parsed = parseOrigin(input);
  if (parsed.error) {
    process.stderr.write(`error: ${parsed.error}\n`);
    process.exit(1);
  }
  try {
    const { from, changed } = setOrigin(appDir, parsed.origin);
    process.stdout.write(
      changed.length === 0
        ? `already ${parsed.origin}\n`
        : `${from} -> ${parsed.origin} in ${changed.join(', ')}\n`,
    );
    const email =
      JSON.parse(fs.readFileSync(path.join(appDir, 'app-hsmeta.json'), 'utf8')).config.support
        ?.supportEmail ?? '';
    if (email.endsWith('example.com'))
      process.stdout.write(`note: support.supportEmail in app-hsmeta.json is still ${email}: set your own\n`);
    process.stdout.write('next: set PUBLIC_URL to the same origin on the service, then hs project upload\n');
  } catch (e) {
    process.stderr.write(`error: ${e.message}\n`);
    process.exit(1);
  }
}
