import {
  formatPlaybookErrors,
  loadPlaybookFile,
  playbookJsonSchemaText,
  type Playbook,
} from '@stagekeeper/shared';
import { createLogger } from '../log';
import { redisKeys } from '../state/keys';
import { PlaybookStore } from '../state/playbook-store';
import { unsubscribedProperties } from '../webhooks/subscriptions';
import { cliConfig, withRedis } from './env';
import { CliError, line, type CliIo } from './io';

export function validatePlaybookFile(io: CliIo, file: string): number {
  const result = loadPlaybookFile(file);
  if (!result.ok) {
    io.err(line(formatPlaybookErrors(result.errors, file)));
    return 1;
  }
  const stages = result.playbook.pipelines.reduce((n, p) => n + p.stages.length, 0);
  io.out(line(`valid: ${result.playbook.pipelines.length} pipelines, ${stages} stages`));
  // Valid but slow to react: a property without a webhook subscription is seen only by the sweep.
  for (const u of unsubscribedProperties(result.playbook))
    io.err(
      line(
        `${file}: warning: ${u.property} (read at ${u.at.join(', ')}) has no webhook subscription: ${u.fix}`,
      ),
    );
  return 0;
}

export function printPlaybookSchema(io: CliIo): number {
  io.out(line(playbookJsonSchemaText()));
  return 0;
}

/** For commands that take `--playbook FILE`: the whole error list is on one line so the exit stays one message. */
export function readPlaybookOrFail(file: string): Playbook {
  const result = loadPlaybookFile(file);
  if (result.ok) return result.playbook;
  const lines = formatPlaybookErrors(result.errors, file).split('\n');
  throw new CliError(
    `invalid playbook ${file}: ${lines[0]}${lines.length > 1 ? ` (and ${lines.length - 1} more; run "stagekeeper playbook validate ${file}")` : ''}`,
  );
}

/**
 * Puts a playbook in force for a portal (a new version, or nothing when it is unchanged). The running service
 * reads the store, so clocks already running are recomputed under it at their next reconcile.
 */
export async function publishPlaybook(io: CliIo, file: string, opts: { portal?: string }): Promise<number> {
  const playbook = readPlaybookOrFail(file);
  const config = cliConfig(io.env);
  const portalId = opts.portal ?? config.hubspot.portalId;
  if (!portalId) throw new CliError('which portal? pass --portal <id> or set HUBSPOT_PORTAL_ID');
  if (!/^\d+$/.test(portalId)) throw new CliError(`--portal: expected a HubSpot portal id (digits)`);
  const stored = await withRedis(config.redisUrl, (redis) =>
    new PlaybookStore(redis, redisKeys(config.keyPrefix), createLogger('silent')).saveIfChanged(
      portalId,
      playbook,
    ),
  );
  io.out(
    line(
      stored.changed
        ? `published: portal ${portalId} now runs version ${stored.version}`
        : `unchanged: portal ${portalId} already runs this playbook (version ${stored.version})`,
    ),
  );
  return 0;
}
