import { readdirSync, readFileSync } from 'node:fs';

/** Parent pid of a process from /proc (Linux); undefined when it is gone. */
function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name sits in parentheses and may contain spaces; the fields after it are fixed.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[1]);
  } catch {
    return undefined;
  }
}

/** Every live descendant of `root`, parents before children. */
export function descendants(root: number): number[] {
  const parents = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const ppid = parentOf(Number(name));
    if (ppid !== undefined) parents.set(Number(name), ppid);
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length) {
    const p = queue.shift()!;
    for (const [child, parent] of parents)
      if (parent === p) {
        out.push(child);
        queue.push(child);
      }
  }
  return out;
}

const cmdline = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
};

/**
 * The process that actually runs the service under `npm start` (npm → sh → tsx → node): the deepest descendant
 * whose command line names `script`; tsx's esbuild helper is a descendant too and must not be picked.
 * npm forwards SIGTERM only to its `sh -c`, and dash dies without passing it on, so signalling npm would orphan the
 * service; a process manager signals the service process itself, and so does the test.
 */
export function serviceProcess(npmPid: number, script = 'sync-service/src/main.ts'): number | undefined {
  const running = descendants(npmPid).filter((pid) => cmdline(pid).includes(script));
  return running.at(-1);
}
