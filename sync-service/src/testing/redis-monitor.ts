import { connect } from 'node:net';
import type { Redis } from 'ioredis';

/** A command Redis ran: its name (lower case), its arguments (key first), and whether a script ran it. */
export type SeenCommand = { cmd: string; args: string[]; inScript: boolean };

/**
 * The commands Redis ran on keys under `prefix` while `fn` ran, seen by MONITOR on its own connection; an ECHO
 * after `fn` marks the end, so nothing still in flight is missed. MONITOR runs on a raw socket: ioredis' monitor()
 * takes a line of another client's command that arrives with MONITOR's +OK for a reply ("Command queue state
 * error"), which the full suite's busy Redis made happen.
 */
export async function monitorCommands(
  redis: Redis,
  prefix: string,
  fn: () => Promise<unknown>,
): Promise<SeenCommand[]> {
  const seen: SeenCommand[] = [];
  const end = `${prefix}-end`;
  const socket = connect(Number(redis.options.port ?? 6379), redis.options.host ?? '127.0.0.1');
  socket.setEncoding('latin1');
  let monitoring!: () => void;
  let ended!: () => void;
  const started = new Promise<void>((resolve) => (monitoring = resolve));
  const done = new Promise<void>((resolve) => (ended = resolve));
  let buffer = '';
  socket.on('data', (data: string) => {
    buffer += data;
    for (let i = buffer.indexOf('\r\n'); i >= 0; i = buffer.indexOf('\r\n')) {
      const line = buffer.slice(0, i);
      buffer = buffer.slice(i + 2);
      if (line === '+OK') monitoring();
      if (!line.startsWith('+') || line === '+OK') continue;
      // +<time> [<db> <client>] "CMD" "arg" ...: each argument quoted, with backslash escapes; a script's
      // commands show "lua" for the client.
      const args = [...line.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!.replace(/\\(.)/g, '$1'));
      if (args[1] === end) ended();
      else if (args.slice(1).some((a) => a.startsWith(`${prefix}:`)))
        seen.push({
          cmd: args[0]!.toLowerCase(),
          args: args.slice(1),
          inScript: /^\+\S+ \[\d+ lua\]/.test(line),
        });
    }
  });
  try {
    socket.write('MONITOR\r\n');
    await started;
    await fn();
    await redis.echo(end);
    await done;
  } finally {
    socket.destroy();
  }
  return seen;
}
