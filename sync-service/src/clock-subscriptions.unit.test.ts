import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadExamplePlaybook } from '@stagekeeper/shared';

// An event clock starts and stops on property changes: HubSpot only sends the webhooks the app subscribes to,
// and the sweep finds a missed change only minutes later, so the app must subscribe to every watched property.
const hsmeta = fileURLToPath(new URL('../../hubspot-app/app/webhooks/webhooks-hsmeta.json', import.meta.url));

describe('HubSpot app webhook subscriptions', () => {
  it("cover every property the canonical playbook's event clocks start or stop on", () => {
    const subs = (
      JSON.parse(readFileSync(hsmeta, 'utf8')) as {
        config: { subscriptions: { crmObjects: { propertyName?: string }[] } };
      }
    ).config.subscriptions.crmObjects.flatMap((s) => (s.propertyName ? [s.propertyName] : []));
    const playbook = loadExamplePlaybook('telehealth');
    const watched = playbook.clocks.flatMap((c) => [c.start.property, ...c.stopOn.map((t) => t.property)]);
    expect(watched.length).toBeGreaterThan(0);
    expect(watched.filter((p) => !subs.includes(p))).toEqual([]);
  });
});
