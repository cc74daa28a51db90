import { Client } from '@hubspot/api-client';
import type { Playbook } from '@stagekeeper/shared';
import { statusOf } from '../hubspot/errors';
import { createLogger } from '../log';
import { formatProvisionReport, provision } from '../provision';
import { redisKeys } from '../state/keys';
import { PlaybookStore } from '../state/playbook-store';
import { cliConfig, withRedis } from './env';
import { CliError, line, type CliIo } from './io';
import { readPlaybookOrFail } from './playbook-commands';

export type ProvisionOptions = { playbook?: string; portal?: string };

export type ProvisionDeps = {
  /** A HubSpot client for a private-app token; tests point it at the sandbox portal. */
  hubspotClient?: (accessToken: string) => Client;
  openRedis?: typeof withRedis;
};

const WHAT_STATUS_MEANS: Record<number, string> = {
  401: 'the token was rejected; check HUBSPOT_ACCESS_TOKEN',
  403: 'the token lacks a scope provisioning needs (crm.schemas.deals.write, crm.objects.deals.read)',
  429: 'rate limited; try again in a minute',
};

/**
 * Private-app tokens only: an OAuth install is provisioned by the service when the app is installed, and the sandbox
 * portal runs inside the service process, so neither has a token for a CLI to use.
 */
export async function runProvision(
  io: CliIo,
  opts: ProvisionOptions,
  deps: ProvisionDeps = {},
): Promise<number> {
  const config = cliConfig(io.env);
  const token = config.hubspot.accessToken;
  if (!token)
    throw new CliError(
      config.sandbox
        ? 'provision from the CLI needs a HubSpot token; the sandbox portal is provisioned by the service itself'
        : 'HUBSPOT_ACCESS_TOKEN is not set (a private-app token for the portal to provision)',
    );
  const portalId = opts.portal ?? config.hubspot.portalId;
  if (!portalId)
    throw new CliError('HUBSPOT_PORTAL_ID is not set (the portal the token belongs to); or pass --portal ID');

  let playbook: Playbook;
  const file = opts.playbook ?? config.playbookFile;
  if (file) playbook = readPlaybookOrFail(file);
  else {
    const log = createLogger('warn', { write: (msg: string) => io.err(msg) });
    const stored = await (deps.openRedis ?? withRedis)(config.redisUrl, (redis) =>
      new PlaybookStore(redis, redisKeys(config.keyPrefix), log).current(portalId),
    );
    if (!stored)
      throw new CliError(
        `no playbook stored for portal ${portalId}; pass --playbook FILE or set PLAYBOOK_FILE`,
      );
    playbook = stored.playbook;
  }

  const client = (deps.hubspotClient ?? ((accessToken) => new Client({ accessToken })))(token);
  let report;
  try {
    report = await provision({ client, playbook });
  } catch (err) {
    const status = statusOf(err);
    // The client's messages embed whole response bodies; the status and what to do about it are what a user needs.
    if (status !== undefined)
      throw new CliError(
        `HubSpot answered ${status}: ${WHAT_STATUS_MEANS[status] ?? 'provisioning stopped'}`,
      );
    throw err;
  }
  io.out(line(formatProvisionReport(report)));
  return report.ok ? 0 : 1;
}
