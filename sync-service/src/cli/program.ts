import { Command, CommanderError, Option } from 'commander';
import { SCORECARD_FORMATS, WeekError, type ScorecardFormat } from '@stagekeeper/shared';
import { addChannelCommands } from './channel-commands';
import { CliError, line, type CliIo } from './io';
import { addWhatIfCommand } from './whatif-command';
import { printPlaybookSchema, publishPlaybook, validatePlaybookFile } from './playbook-commands';
import { runProvision, type ProvisionDeps } from './provision-command';
import { runScorecard, type ScorecardDeps } from './scorecard-command';

export type CliDeps = ProvisionDeps & ScorecardDeps;

/**
 * The `stagekeeper` command line. Thin on purpose: each action parses its options and calls a library function;
 * the action's return value is the exit code.
 */
export function buildProgram(
  io: CliIo,
  deps: CliDeps = {},
  setExitCode: (code: number) => void = () => undefined,
): Command {
  const program = new Command('stagekeeper')
    .description(
      'Stagekeeper operator tools: validate playbooks, read the weekly scorecard, provision a HubSpot portal.',
    )
    // Before any subcommand is added: subcommands inherit both settings.
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    // Errors stay on one line; `--help` lists the options.
    .showSuggestionAfterError(false);
  const exit = (code: number) => setExitCode(code);

  const playbook = program
    .command('playbook')
    .description('Check and publish playbook files, and print their JSON Schema.');
  playbook
    .command('validate')
    .description(
      'Validate a playbook file (YAML or JSON); prints every problem with its file, line and path.',
    )
    .argument('<file>', 'playbook file (.yaml, .yml or .json)')
    .action((file: string) => exit(validatePlaybookFile(io, file)));
  playbook
    .command('publish')
    .description(
      'Validate a playbook file and put it in force for a portal as a new version (REDIS_URL, KEY_PREFIX).',
    )
    .argument('<file>', 'playbook file (.yaml, .yml or .json)')
    .option('--portal <id>', 'HubSpot portal id (default: HUBSPOT_PORTAL_ID)')
    .action(async (file: string, opts: { portal?: string }) => exit(await publishPlaybook(io, file, opts)));
  playbook
    .command('schema')
    .description('Print the playbook JSON Schema (for editors: yaml-language-server, VS Code json.schemas).')
    .action(() => exit(printPlaybookSchema(io)));
  addWhatIfCommand(playbook, io, exit);

  program
    .command('scorecard')
    .description(
      'Print the weekly scorecard (docs/hubspot-app.md §4.7) from the stage history in Redis (REDIS_URL, KEY_PREFIX).',
    )
    .option('--week <week>', 'ISO week like 2026-W47 (default: the current week, so far)')
    .option('--month <month>', 'a month like 2026-11 instead of a week (the monthly review)')
    .addOption(new Option('--format <format>', 'output format').choices(SCORECARD_FORMATS).default('table'))
    .option(
      '--portal <id>',
      'HubSpot portal id (default: HUBSPOT_PORTAL_ID, or the only portal with a playbook)',
    )
    .option('--zone <tz>', "IANA time zone the week is cut in (default: the playbook's first calendar zone)")
    .option('--playbook <file>', 'read stage labels and roles from this file instead of the stored playbook')
    .option(
      '--cycle <from:to>',
      'also print the cycle time between two stage ids (deals reaching "to" in the week; 8 weeks read back)',
    )
    .action(
      async (opts: {
        week?: string;
        month?: string;
        format: ScorecardFormat;
        portal?: string;
        zone?: string;
        playbook?: string;
        cycle?: string;
      }) => exit(await runScorecard(io, opts, deps)),
    );

  program
    .command('provision')
    .description(
      'Create or update the Stagekeeper deal properties in a portal and check its pipelines against the playbook ' +
        '(HUBSPOT_ACCESS_TOKEN + HUBSPOT_PORTAL_ID). Exits 1 when the portal is not ready.',
    )
    .option(
      '--playbook <file>',
      'playbook to check against (default: PLAYBOOK_FILE, else the stored playbook)',
    )
    .option('--portal <id>', 'portal id (default: HUBSPOT_PORTAL_ID)')
    .action(async (opts: { playbook?: string; portal?: string }) => exit(await runProvision(io, opts, deps)));

  addChannelCommands(program, io, exit);

  return program;
}

const USER_ERRORS = [CliError, WeekError];

/** Runs the program on `args` (without node and script) and returns the exit code; never throws. */
export async function runCli(args: string[], io: CliIo, deps: CliDeps = {}): Promise<number> {
  let code = 0;
  const program = buildProgram(io, deps, (c) => (code = c));
  try {
    await program.parseAsync(args, { from: 'user' });
    return code;
  } catch (err) {
    // Commander has already printed its own message (usage error) or the help text.
    if (err instanceof CommanderError) return err.exitCode;
    if (USER_ERRORS.some((E) => err instanceof E)) {
      io.err(line(`error: ${(err as Error).message}`));
      return 1;
    }
    // Unexpected: still one line by default (a stack trace is noise to an operator); STAGEKEEPER_DEBUG=1 shows it.
    const e = err instanceof Error ? err : new Error(String(err));
    io.err(line(io.env.STAGEKEEPER_DEBUG ? (e.stack ?? e.message) : `error: ${e.message.split('\n')[0]}`));
    return 1;
  }
}
