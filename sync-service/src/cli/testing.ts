import type { CliIo } from './io';
import { runCli, type CliDeps } from './program';

/** Runs the real program in-process and collects what it printed (test helper). */
export async function runCaptured(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  deps: CliDeps = {},
  now = Date.now(),
) {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { out: (t) => void (stdout += t), err: (t) => void (stderr += t), env, now: () => now };
  const code = await runCli(args, io, deps);
  return { code, stdout, stderr };
}
