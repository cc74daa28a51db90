import { Option, type Command } from 'commander';
import { formatWhatIf, WHATIF_FORMATS, type WhatIfFormat } from '@stagekeeper/shared';
import { ApiError } from '../api/errors';
import { previewWhatIf } from '../api/whatif-preview';
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
export async function runWhatIf(
  io: CliIo,
  file: string,
  opts: WhatIfOptions,
  openRedis = withRedis,
): Promise<number> {
  const weeks = Number(opts.weeks);
  if (!Number.isInteger(weeks) || weeks < 1 || weeks > 52)
    throw new CliError(`--weeks: expected a whole number of weeks from 1 to 52, got "${opts.weeks}"`);
  const at = opts.at === undefined ? undefined : Date.parse(opts.at);
  if (at !== undefined && (!/(Z|[+-]\d{2}:\d{2})$/.test(opts.at!) || Number.isNaN(at)))
    throw new CliError(
      `--at: expected a date-time with an offset like 2026-11-23T09:00:00-05:00, got "${opts.at}"`,
    );
  const draft = readPlaybookOrFail(file);
  return withPortal(
    io,
    opts.portal,
    async ({ redis, keys, log, playbooks, portalId }) => {
      const now = at ?? io.now();
      const states = new DealStateStore(redis, keys, log);
      // The settings page's preview, read the same way (api/whatif-preview.ts): the CLI cannot drift from it.
      const report = await previewWhatIf(
        {
          playbooks,
          whatIfData: (p, n, w) =>
            readWhatIfData({ redis, keys, log, states, portalId: p, now: n, weeks: w }),
        },
        { portalId, draft, weeks, now },
      ).catch((err: unknown) => {
        if (err instanceof ApiError && err.code === 'not_found')
          throw new CliError(
            `no playbook in force for portal ${portalId}: publish one first, there is nothing to compare the draft with`,
          );
        throw err;
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
    .option(
      '--portal <id>',
      'HubSpot portal id (default: HUBSPOT_PORTAL_ID, or the only portal with a playbook)',
    )
    .option('--weeks <n>', 'how many weeks back to replay (1-52)', '4')
    .addOption(new Option('--format <format>', 'output format').choices(WHATIF_FORMATS).default('table'))
    .option('--at <datetime>', 'replay as of this instant instead of now (a date-time with an offset)')
    .action(async (file: string, opts: WhatIfOptions) => exit(await runWhatIf(io, file, opts)));
}
