import type { Command } from 'commander';
import { maskChannel, type PortalChannels } from '../notify/channel-config';
import { ChannelConfigError, ChannelStore } from '../notify/channel-store';
import { sendTestPage } from '../notify/test-page';
import { cliConfig, withRedis } from './env';
import { CliError, line, type CliIo } from './io';

/**
 * `stagekeeper channels ...`: the settings page's paging channels from a shell (REDIS_URL, KEY_PREFIX,
 * TOKEN_ENCRYPTION_KEY). Secrets are taken from options or, better (shell history), from the environment:
 * STAGEKEEPER_CHANNEL_URL, STAGEKEEPER_CHANNEL_ROUTING_KEY, STAGEKEEPER_CHANNEL_SECRET. Output is always masked.
 */

type AddOptions = {
  portal?: string;
  kind: string;
  url?: string;
  routingKey?: string;
  secret?: string;
  eventsUrl?: string;
  default?: boolean;
};

function portalOf(io: CliIo, portal: string | undefined): string {
  const id = portal ?? cliConfig(io.env).hubspot.portalId;
  if (!id) throw new CliError('which portal? pass --portal <id> or set HUBSPOT_PORTAL_ID');
  if (!/^\d+$/.test(id)) throw new CliError('--portal: expected a HubSpot portal id (digits)');
  return id;
}

async function withChannels<T>(io: CliIo, fn: (store: ChannelStore) => Promise<T>): Promise<T> {
  const config = cliConfig(io.env);
  return withRedis(config.redisUrl, async (redis) => {
    const store = new ChannelStore({
      redis,
      prefix: config.keyPrefix,
      keys: config.hubspot.tokenEncryptionKey,
    });
    try {
      return await fn(store);
    } catch (err) {
      if (err instanceof ChannelConfigError)
        throw new CliError(
          [err.message, ...err.issues.map((i) => `${i.path.join('.') || '(config)'}: ${i.message}`)].join(
            '; ',
          ),
        );
      throw err;
    }
  });
}

function print(
  io: CliIo,
  doc: PortalChannels,
  health: Awaited<ReturnType<ChannelStore['health']>> = {},
): void {
  const ids = Object.keys(doc.channels).sort();
  if (ids.length === 0) io.out(line('no paging channels: escalations are HubSpot tasks only'));
  for (const id of ids) {
    const m = maskChannel(id, doc.channels[id]!, doc.defaultChannel);
    const h = health[id];
    const state = h ? `${h.state}${h.lastError ? ` (last error ${h.lastError})` : ''}` : 'not used yet';
    io.out(line(`${m.isDefault ? '*' : ' '} ${m.id}  ${m.kind}  ${m.target}  ${state}`));
  }
}

export function addChannelCommands(program: Command, io: CliIo, exit: (code: number) => void): void {
  const channels = program
    .command('channels')
    .description('Paging channels escalations page through (Slack, Teams, PagerDuty, signed webhook).');
  channels
    .command('list')
    .description("List a portal's channels (secrets masked), the default marked *, with delivery health.")
    .option('--portal <id>', 'HubSpot portal id (default: HUBSPOT_PORTAL_ID)')
    .action(async (opts: { portal?: string }) => {
      const portalId = portalOf(io, opts.portal);
      await withChannels(io, async (store) =>
        print(io, await store.get(portalId), await store.health(portalId)),
      );
      exit(0);
    });
  channels
    .command('add')
    .description('Add or replace a channel; the first one becomes the default.')
    .argument('<id>', 'channel id, e.g. clinical-slack')
    .requiredOption('--kind <kind>', 'slack | teams | pagerduty | webhook')
    .option(
      '--url <url>',
      'Slack/Teams incoming webhook URL, or the webhook URL (or STAGEKEEPER_CHANNEL_URL)',
    )
    .option('--routing-key <key>', 'PagerDuty integration key (or STAGEKEEPER_CHANNEL_ROUTING_KEY)')
    .option('--events-url <url>', 'PagerDuty Events API URL (EU: https://events.eu.pagerduty.com/v2/enqueue)')
    .option('--secret <secret>', 'webhook signing secret (or STAGEKEEPER_CHANNEL_SECRET)')
    .option('--default', "make it the portal's default channel")
    .option('--portal <id>', 'HubSpot portal id (default: HUBSPOT_PORTAL_ID)')
    .action(async (id: string, opts: AddOptions) => {
      const portalId = portalOf(io, opts.portal);
      const url = opts.url ?? io.env.STAGEKEEPER_CHANNEL_URL;
      const config =
        opts.kind === 'pagerduty'
          ? {
              kind: 'pagerduty',
              routingKey: opts.routingKey ?? io.env.STAGEKEEPER_CHANNEL_ROUTING_KEY,
              ...(opts.eventsUrl ? { eventsUrl: opts.eventsUrl } : {}),
            }
          : opts.kind === 'webhook'
            ? { kind: 'webhook', url, secret: opts.secret ?? io.env.STAGEKEEPER_CHANNEL_SECRET }
            : { kind: opts.kind, webhookUrl: url };
      await withChannels(io, async (store) => {
        const doc = await store.put(portalId, id, config, opts.default ?? false);
        io.out(line(`saved: channel ${id} for portal ${portalId}`));
        print(io, doc);
      });
      exit(0);
    });
  channels
    .command('test')
    .argument('<id>', 'channel id')
    .option('--portal <id>', 'HubSpot portal id (default: HUBSPOT_PORTAL_ID)')
    .description(
      'Send a test page through the channel now (a PagerDuty test incident is resolved at once). Exits 1 if refused.',
    )
    .action(async (id: string, opts: { portal?: string }) => {
      const portalId = portalOf(io, opts.portal);
      const result = await withChannels(io, (store) => sendTestPage(store, portalId, id));
      if (result.ok) io.out(line(`delivered: test page through ${id}`));
      else io.err(line(`error: ${id} did not take the test page (${result.code})`));
      exit(result.ok ? 0 : 1);
    });
  channels
    .command('remove')
    .argument('<id>', 'channel id')
    .option('--portal <id>', 'HubSpot portal id (default: HUBSPOT_PORTAL_ID)')
    .description('Remove a channel (pages that named it fail visibly; their HubSpot tasks stand).')
    .action(async (id: string, opts: { portal?: string }) => {
      const portalId = portalOf(io, opts.portal);
      await withChannels(io, async (store) => print(io, await store.remove(portalId, id)));
      exit(0);
    });
  channels
    .command('default')
    .argument('<id>', 'channel id, or "none" for no default (HubSpot tasks only)')
    .option('--portal <id>', 'HubSpot portal id (default: HUBSPOT_PORTAL_ID)')
    .description('Choose the channel escalation levels page through unless they name their own.')
    .action(async (id: string, opts: { portal?: string }) => {
      const portalId = portalOf(io, opts.portal);
      await withChannels(io, async (store) =>
        print(io, await store.setDefault(portalId, id === 'none' ? null : id)),
      );
      exit(0);
    });
}
