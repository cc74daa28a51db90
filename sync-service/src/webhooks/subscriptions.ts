import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { EXAMPLE_PLAYBOOKS, loadPlaybookFile, P, propertyUses, type Playbook } from '@stagekeeper/shared';

/**
 * Which deal changes Stagekeeper must hear about, derived from playbooks: one home for the app's webhook
 * subscriptions (hubspot-app/app/webhooks/webhooks-hsmeta.json is generated from here by `npm run gen:webhooks`),
 * the sandbox's subscriptions, and the "this property has no subscription" findings of `playbook validate` and
 * the settings page. A property read by a playbook without a subscription is seen only by the sweep.
 */

/** Deal lifecycle events, subscribed without a property name. */
export const LIFECYCLE_EVENTS = ['creation', 'deletion', 'merge', 'restore'] as const;

/**
 * Heard whatever the playbook: where a deal is and who owns it (the engine reads them), and the written-back breach
 * reason, which a person may correct in HubSpot (reasons/hubspot-edit.ts takes it as a rep's reason).
 */
const ALWAYS_WATCHED = ['dealstage', 'pipeline', 'hubspot_owner_id', P.breachReason] as const;

/** HubSpot refuses subscriptions to these (facts §4). */
const UNSUBSCRIBABLE: ReadonlySet<string> = new Set(['hs_lastmodifieddate', 'num_unique_conversion_events']);

export type WatchedProperty = { property: string; at: string[] };

/** Every deal property a playbook reads (criteria and signals; escalation actions only write), with where. */
export function watchedProperties(playbook: Playbook): WatchedProperty[] {
  const out = new Map<string, string[]>(ALWAYS_WATCHED.map((p) => [p, []]));
  for (const use of propertyUses(playbook)) {
    if (use.source === 'action' || UNSUBSCRIBABLE.has(use.property)) continue;
    out.set(use.property, [...(out.get(use.property) ?? []), use.at]);
  }
  return [...out].map(([property, at]) => ({ property, at }));
}

/** The shipped playbooks, the input of the generated subscriptions: every `*.yaml` next to the examples. */
export function shippedPlaybookFiles(): string[] {
  const dir = dirname(EXAMPLE_PLAYBOOKS.telehealth);
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => join(dir, f));
}

export function loadShippedPlaybooks(): Playbook[] {
  return shippedPlaybookFiles().map((file) => {
    const r = loadPlaybookFile(file);
    if (!r.ok) throw new Error(`shipped playbook ${file} is invalid`);
    return r.playbook;
  });
}

/** Property names subscribed for a set of playbooks, in first-seen order (stable output for the generated file). */
export function subscribedPropertyNames(playbooks: readonly Playbook[]): string[] {
  const names = new Set<string>();
  for (const pb of playbooks) for (const w of watchedProperties(pb)) names.add(w.property);
  return [...names];
}

let shipped: ReadonlySet<string> | undefined;
/** What the generated webhooks-hsmeta.json subscribes to (the drift test holds the file to this). */
export function shippedSubscriptions(): ReadonlySet<string> {
  shipped ??= new Set(subscribedPropertyNames(loadShippedPlaybooks()));
  return shipped;
}

export type CrmObjectSubscription = {
  subscriptionType: string;
  objectType: 'deal';
  propertyName?: string;
  active: true;
};

/** HubSpot refuses the 1001st subscription of an app (facts §4). */
export const MAX_SUBSCRIPTIONS = 1000;

/** The `crmObjects` list of webhooks-hsmeta.json (platform 2026.03 generic `object.*` subscriptions). */
export function crmObjectSubscriptions(properties: readonly string[]): CrmObjectSubscription[] {
  if (LIFECYCLE_EVENTS.length + properties.length > MAX_SUBSCRIPTIONS)
    throw new Error(
      `${LIFECYCLE_EVENTS.length + properties.length} webhook subscriptions: HubSpot allows ${MAX_SUBSCRIPTIONS} per app`,
    );
  return [
    ...LIFECYCLE_EVENTS.map((e) => ({
      subscriptionType: `object.${e}`,
      objectType: 'deal' as const,
      active: true as const,
    })),
    ...properties.map((propertyName) => ({
      subscriptionType: 'object.propertyChange',
      objectType: 'deal' as const,
      propertyName,
      active: true as const,
    })),
  ];
}

/** The whole webhooks component, keeping the existing file's uid and settings (targetUrl is deployment's). */
export function webhooksHsmeta(
  existing: { uid: string; config: { settings: unknown } },
  playbooks: readonly Playbook[],
) {
  return {
    uid: existing.uid,
    type: 'webhooks',
    config: {
      settings: existing.config.settings,
      subscriptions: { crmObjects: crmObjectSubscriptions(subscribedPropertyNames(playbooks)) },
    },
  };
}

export type UnsubscribedProperty = { property: string; at: string[]; fix: string };

/**
 * Properties a playbook reads that the app does not subscribe to: changes to them (a pause, a gate) would be
 * noticed only by the sweep, minutes late. Each comes with the fix.
 */
export function unsubscribedProperties(
  playbook: Playbook,
  subscribed: ReadonlySet<string> = shippedSubscriptions(),
): UnsubscribedProperty[] {
  return watchedProperties(playbook)
    .filter((w) => !subscribed.has(w.property))
    .map((w) => ({
      ...w,
      fix:
        `add {"subscriptionType":"object.propertyChange","objectType":"deal","propertyName":"${w.property}","active":true} ` +
        'to hubspot-app/app/webhooks/webhooks-hsmeta.json (or put the playbook in shared/playbooks and run `npm run gen:webhooks`), ' +
        'then `hs project upload`; until then changes to it are seen only by the sweep',
    }));
}
