import { Option, type Command } from 'commander';
import { formatWhatIf, WHATIF_FORMATS, whatIf, type WhatIfFormat } from '@stagekeeper/shared';
import { readWhatIfData } from '../api/whatif-data';
import { DealStateStore } from '../state/deal-state-store';
import { withRedis } from './env';
import { CliError, line, type CliIo } from './io';
import { readPlaybookOrFail } from './playbook-commands';
import { withPortal } from './portal-context';

export type WhatIfOptions = {
  portal?: string;
  weeks: string;
  format: WhatIfFormat;
  at?: string;
};

/**
 * `stagekeeper playbook whatif DRAFT`: what the draft would have done to the portal's last weeks of stage visits,
 * next to the playbook in force, and how far the running clocks would move if it were published. Reads only.
 */
export async function runWhatIf(io: CliIo, file: string, opts: WhatIfOptions, openRedis = withRedis): Promise<number> {
  const weeks = Number(opts.weeks);
  if (!Number.isInteger(weeks) || weeks < 1 || weeks > 52)
    throw new CliError(`--weeks: expected a whole number of weeks from 1 to 52, got "${opts.weeks}"`);
  const at = opts.at === undefined ? undefined : Date.parse(opts.at);
  if (at !== undefined && (!/(Z|[+-]\d{2}:\d{2})$/.test(opts.at!) || Number.isNaN(at)))
    throw new CliError(`--at: expected a date-time with an offset like 2026-11-23T09:00:00-05:00, got "${opts.at}"`);
  const draft = readPlaybookOrFail(file);
  return withPortal(
    io,
    opts.portal,
    async ({ redis, keys, log, playbooks, portalId }) => {
      const stored = await playbooks.current(portalId);
      if (!stored)
        throw new CliError(
          `no playbook in force for portal ${portalId}: publish one first, there is nothing to compare the draft with`,
        );
      const now = at ?? io.now();
      const data = await readWhatIfData({
        redis,
        keys,
        log,
        states: new DealStateStore(redis, keys, log),
        portalId,
        now,
        weeks,
      });
      // The stored playbook's version numbers the draft: the next one, as publishing it would.
      const report = whatIf({
        ...data,
        current: stored.playbook,
        draft: { ...draft, version: stored.version + 1 },
        now,
        weeks,
      });
      io.out(line(formatWhatIf(report, opts.format)));
      return 0;
    },
    openRedis,
  );
}

/** Adds `whatif` under the `playbook` command. */
export function addWhatIfCommand(playbook: Command, io: CliIo, exit: (code: number) => void): void {
  playbook
    .command('whatif')
    .description(
      'Replay the last weeks of stage visits under a draft playbook and the one in force, and preview how far running ' +
        'clocks would move if it were published (REDIS_URL, KEY_PREFIX). Reads only.',
    )
    .argument('<draft>', 'draft playbook file (.yaml, .yml or .json)')
    .option('--portal <id>', 'HubSpot portal id (default: HUBSPOT_PORTAL_ID, or the only portal with a playbook)')
    .option('--weeks <n>', 'how many weeks back to replay (1-52)', '4')
    .addOption(new Option('--format <format>', 'output format').choices(WHATIF_FORMATS).default('table'))
    .option('--at <datetime>', 'replay as of this instant instead of now (a date-time with an offset)')
    .action(async (file: string, opts: WhatIfOptions) => exit(await runWhatIf(io, file, opts)));
}
