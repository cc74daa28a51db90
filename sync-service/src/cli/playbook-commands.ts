import { formatPlaybookErrors, loadPlaybookFile, playbookJsonSchemaText, type Playbook } from '@stagekeeper/shared';
import { CliError, line, type CliIo } from './io';

export function validatePlaybookFile(io: CliIo, file: string): number {
  const result = loadPlaybookFile(file);
  if (!result.ok) {
    io.err(line(formatPlaybookErrors(result.errors, file)));
    return 1;
  }
  const stages = result.playbook.pipelines.reduce((n, p) => n + p.stages.length, 0);
  io.out(line(`valid: ${result.playbook.pipelines.length} pipelines, ${stages} stages`));
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
