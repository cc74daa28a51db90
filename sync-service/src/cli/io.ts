/**
 * What a command may touch besides its arguments. Tests pass their own so they can run the real program in-process
 * and read what it printed.
 */
export type CliIo = {
  /** Writes to stdout / stderr exactly what is given (commands add their own line ends). */
  out(text: string): void;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
  now(): number;
};

/** A problem the user can fix (bad argument, missing setting, unreadable file): one line, exit code 1, no stack. */
export class CliError extends Error {
  override readonly name = 'CliError';
}

export const processIo = (): CliIo => ({
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  env: process.env,
  now: Date.now,
});

export const line = (text: string) => (text.endsWith('\n') ? text : `${text}\n`);
