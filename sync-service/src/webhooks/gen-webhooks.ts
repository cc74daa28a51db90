import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadShippedPlaybooks, webhooksHsmeta } from './subscriptions';

/**
 * `npm run gen:webhooks`: rewrites hubspot-app/app/webhooks/webhooks-hsmeta.json so the app subscribes to every
 * deal property the shipped playbooks read. `--check` only reports drift (exit 1), as the unit test does.
 */
export const WEBHOOKS_HSMETA_PATH = fileURLToPath(
  new URL('../../../hubspot-app/app/webhooks/webhooks-hsmeta.json', import.meta.url),
);

export function renderWebhooksHsmeta(currentText: string): string {
  return `${JSON.stringify(webhooksHsmeta(JSON.parse(currentText), loadShippedPlaybooks()), null, 2)}\n`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const current = readFileSync(WEBHOOKS_HSMETA_PATH, 'utf8');
  const next = renderWebhooksHsmeta(current);
  if (current === next) console.log('webhooks-hsmeta.json is up to date');
  else if (process.argv.includes('--check')) {
    console.error('webhooks-hsmeta.json differs from the shipped playbooks: run `npm run gen:webhooks`');
    process.exitCode = 1;
  } else {
    writeFileSync(WEBHOOKS_HSMETA_PATH, next);
    console.log('webhooks-hsmeta.json regenerated from the shipped playbooks');
  }
}
