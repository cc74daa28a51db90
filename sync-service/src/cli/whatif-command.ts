import { formatWhatIf, whatIf, type WhatIfFormat } from '@stagekeeper/shared';
import type { Redis } from 'ioredis';
import { readWhatIfData } from '../api/whatif-data';
import { createLogger } from '../log';
import { DealStateStore } from '../state/deal-state-store';
import { redisKeys } from '../state/keys';
import { PlaybookStore } from '../state/playbook-store';
import { cliConfig, withRedis } from './env';
import { CliError, line, type CliIo } from './io';
import { readPlaybookOrFail } from './playbook-commands';
import { resolvePortal } from './scorecard-command';

export type WhatIfOptions = { portal?: string; weeks: string; format: WhatIfFormat; at?: string };

/**
 * `stagekeeper playbook whatif DRAFT`: what the draft would have done to the portal's last weeks of stage visits,
 * next to the playbook in force, and how far the running clocks would move if it were published. Reads only.
 */
export async function runWhatIf(io: CliIo, file: string, opts: WhatIfOptions, openRedis = withRedis): Promise<number> {
  const weeks = Number(opts.weeks);
  if (!Number.isInteger(weeks) || weeks < 1 || weeks > 52) throw new CliError(`--weeks: expected a whole number of weeks from 1 to 52, got "${opts.weeks}"`);
  const at = opts.at === undefined ? undefined : Date.parse(opts.at);
  if (at !== undefined && (!/(Z|[+-]\d{2}:\d{2})$/.test(opts.at!) || Number.isNaN(at)))
    throw new CliError(`--at: expected a date-time with an offset like 2026-11-23T09:00:00-05:00, got "${opts.at}"`);
  const draft = readPlaybookOrFail(file);
  const config = cliConfig(io.env);
  const portalArg = opts.portal ?? config.hubspot.portalId;
  if (portalArg !== undefined && !/^\d+$/.test(portalArg)) throw new CliError(`invalid portal id "${portalArg}": expected digits`);
  const log = createLogger('warn', { write: (msg: string) => io.err(msg) });
  return openRedis(config.redisUrl, async (redis: Redis) => {
    const keys = redisKeys(config.keyPrefix);
    const playbooks = new PlaybookStore(redis, keys, log);
    const portalId = await resolvePortal(playbooks, portalArg);
    const stored = await playbooks.current(portalId);
    if (!stored) throw new CliError(`no playbook in force for portal ${portalId}: publish one first, there is nothing to compare the draft with`);
    const now = at ?? io.now();
    const data = await readWhatIfData({ redis, keys, log, states: new DealStateStore(redis, keys, log), portalId, now, weeks });
    // The stored playbook's version numbers the draft: the next one, as publishing it would.
    const report = whatIf({ ...data, current: stored.playbook, draft: { ...draft, version: stored.version + 1 }, now, weeks });
    io.out(line(formatWhatIf(report, opts.format)));
    return 0;
  });
}
