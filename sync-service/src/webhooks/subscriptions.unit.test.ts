import { readFileSync } from 'node:fs';
import { loadExamplePlaybook, type Playbook } from '@stagekeeper/shared';
import { describe, expect, it } from 'vitest';
import { renderWebhooksHsmeta, WEBHOOKS_HSMETA_PATH } from './gen-webhooks';
import {
  crmObjectSubscriptions,
  loadShippedPlaybooks,
  shippedPlaybookFiles,
  unsubscribedProperties,
  watchedProperties,
} from './subscriptions';

// Issue 13 point 2: the app's webhook subscriptions are generated from the shipped playbooks (every property a
// playbook reads), so a gate or pause property change is heard at once instead of at the next sweep.
describe('webhooks-hsmeta.json is generated from the shipped playbooks', () => {
  it('has no drift: regenerating changes nothing (else run `npm run gen:webhooks`)', () => {
    const current = readFileSync(WEBHOOKS_HSMETA_PATH, 'utf8');
    expect(renderWebhooksHsmeta(current), 'webhooks-hsmeta.json is stale: run `npm run gen:webhooks`').toBe(
      current,
    );
  });

  it('subscribes to every property each shipped playbook reads, and to deal lifecycle events', () => {
    expect(shippedPlaybookFiles().length).toBeGreaterThanOrEqual(3);
    const hsmeta = JSON.parse(readFileSync(WEBHOOKS_HSMETA_PATH, 'utf8'));
    const subs = hsmeta.config.subscriptions.crmObjects as {
      subscriptionType: string;
      objectType: string;
      propertyName?: string;
    }[];
    const props = new Set(
      subs.filter((s) => s.subscriptionType === 'object.propertyChange').map((s) => s.propertyName),
    );
    for (const pb of loadShippedPlaybooks()) {
      for (const w of watchedProperties(pb))
        expect(props.has(w.property), `${pb.name}: ${w.property} (${w.at[0]})`).toBe(true);
      expect(unsubscribedProperties(pb)).toEqual([]);
    }
    // The examples: telehealth's inbound-reply signal, the five-phase and referral gates.
    for (const p of [
      'last_patient_reply_at',
      'consent_signed',
      'referral_letter_received_at',
      'dealstage',
      'pipeline',
      'hubspot_owner_id',
    ])
      expect(props.has(p), p).toBe(true);
    expect(subs.filter((s) => !s.propertyName).map((s) => s.subscriptionType)).toEqual([
      'object.creation',
      'object.deletion',
      'object.merge',
      'object.restore',
    ]);
    expect(subs.every((s) => s.objectType === 'deal')).toBe(true);
    expect(props.has('hs_lastmodifieddate')).toBe(false);
  });
});

describe('crmObjectSubscriptions', () => {
  it('refuses more subscriptions than HubSpot allows an app (1000)', () => {
    expect(crmObjectSubscriptions(Array.from({ length: 996 }, (_, i) => `p${i}`))).toHaveLength(1000);
    expect(() => crmObjectSubscriptions(Array.from({ length: 997 }, (_, i) => `p${i}`))).toThrow(
      /1001 webhook subscriptions: HubSpot allows 1000/,
    );
  });
});

describe('unsubscribedProperties', () => {
  it('names each property a playbook reads without a subscription, where it is read, and the fix', () => {
    const base = loadExamplePlaybook('telehealth');
    const stage = base.pipelines[0]!.stages[0]!;
    const edited: Playbook = {
      ...base,
      pipelines: [
        {
          ...base.pipelines[0]!,
          stages: [
            {
              ...stage,
              exitCriteria: [...stage.exitCriteria, { op: 'present', property: 'insurance_card_uploaded' }],
            },
            ...base.pipelines[0]!.stages.slice(1),
          ],
        },
      ],
    };
    const found = unsubscribedProperties(edited);
    expect(found).toEqual([
      {
        property: 'insurance_card_uploaded',
        at: [`pipelines[0].stages[0].exitCriteria[${stage.exitCriteria.length}]`],
        fix: expect.stringContaining('"propertyName":"insurance_card_uploaded"'),
      },
    ]);
    expect(found[0]!.fix).toContain('npm run gen:webhooks');
    expect(found[0]!.fix).toContain('sweep');
  });
});
