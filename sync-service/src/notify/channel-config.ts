import { EscalationPage } from '@stagekeeper/shared';
import { z } from 'zod';

/**
 * A portal's paging channels. Every field that lets someone post to the channel is a secret (Slack and Teams
 * webhook URLs carry their credential in the path, PagerDuty's routing key, the signing secret), so the whole
 * document is sealed at rest and the API and CLI only ever show masked forms.
 */

/** The same rule a playbook level's `page.channel` follows (one home: the playbook schema). */
export const ChannelId = EscalationPage.shape.channel.unwrap();

/** PagerDuty's Events API v2 endpoint (US service region; EU accounts use events.eu.pagerduty.com). */
export const PAGERDUTY_EVENTS_URL = 'https://events.pagerduty.com/v2/enqueue';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * HTTPS only: pages must not travel in clear. Plain http is accepted for loopback hosts when the caller allows it
 * (local fakes in tests), never otherwise. Credentials in the URL's user part are refused: they would be logged.
 */
export function webUrl(allowHttpLoopback: boolean) {
  return z
    .string()
    .max(2048)
    .superRefine((text, ctx) => {
      let url: URL;
      try {
        url = new URL(text);
      } catch {
        ctx.addIssue({ code: 'custom', message: 'expected a URL like https://hooks.example.com/...' });
        return;
      }
      const loopback = LOOPBACK.has(url.hostname);
      if (url.protocol !== 'https:' && !(allowHttpLoopback && loopback && url.protocol === 'http:'))
        ctx.addIssue({ code: 'custom', message: 'expected an https:// URL' });
      if (url.username || url.password)
        ctx.addIssue({ code: 'custom', message: 'credentials belong in the channel secret, not in the URL' });
    });
}

export function channelConfigSchema(allowHttpLoopback = false) {
  const url = webUrl(allowHttpLoopback);
  return z.discriminatedUnion('kind', [
    /** Slack incoming webhook (https://hooks.slack.com/services/...). */
    z.object({ kind: z.literal('slack'), webhookUrl: url }).strict(),
    /** Microsoft Teams incoming webhook (Office 365 connector or a Workflows "post to a channel" URL). */
    z.object({ kind: z.literal('teams'), webhookUrl: url }).strict(),
    /** PagerDuty Events API v2: an integration's 32-character routing key. */
    z
      .object({
        kind: z.literal('pagerduty'),
        routingKey: z
          .string()
          .regex(/^[A-Za-z0-9]{32}$/, 'expected the 32-character integration (routing) key'),
        eventsUrl: url.optional(),
      })
      .strict(),
    /** A team's own tooling: JSON POSTed and signed with HMAC-SHA256 (notify/sign.ts). */
    z
      .object({
        kind: z.literal('webhook'),
        url,
        secret: z.string().min(16, 'use a secret of at least 16 characters').max(256),
      })
      .strict(),
  ]);
}

export type ChannelConfig = z.infer<ReturnType<typeof channelConfigSchema>>;
export type ChannelKind = ChannelConfig['kind'];

export const PortalChannels = z.object({
  /** Where levels without their own `page.channel` page; null: no paging, HubSpot tasks only. */
  defaultChannel: ChannelId.nullable(),
  channels: z.record(ChannelId, channelConfigSchema(true)),
});
export type PortalChannels = z.infer<typeof PortalChannels>;

export const NO_CHANNELS: PortalChannels = { defaultChannel: null, channels: {} };

/** What the settings page and the CLI show: the kind, where it posts, and the last characters of the secret. */
export type MaskedChannel = { id: string; kind: ChannelKind; target: string; isDefault: boolean };

const tail = (secret: string) => `…${secret.slice(-4)}`;

export function maskChannel(id: string, c: ChannelConfig, defaultChannel: string | null): MaskedChannel {
  const host = (u: string) => new URL(u).host;
  const target =
    c.kind === 'pagerduty'
      ? `routing key ${tail(c.routingKey)}`
      : c.kind === 'webhook'
        ? `${host(c.url)} (secret ${tail(c.secret)})`
        : `${host(c.webhookUrl)} (${tail(c.webhookUrl)})`;
  return { id, kind: c.kind, target, isDefault: id === defaultChannel };
}
