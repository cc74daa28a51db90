/**
 * A Stagekeeper stack in a child process of a test run (chaos/child.ts, bench/service-child.ts): configured from
 * the environment the parent set, against the sandbox portal that lives in the parent and is reached over HTTP as
 * HubSpot would be, serving HTTP and/or running workers as the child's role says. SIGTERM drains and exits like
 * production.
 */
import { loadConfig } from '@stagekeeper/sync-service/config';
import { createLogger } from '@stagekeeper/sync-service/log';
import { closeOnSignals } from '@stagekeeper/sync-service/service';
import { startStack, type StackOptions } from '@stagekeeper/sync-service/stack';
import type { Playbook } from '@stagekeeper/shared';
import { chaosPlaybook } from './playbook';

/** A variable the parent must have set; `who` names the child in the error. */
export function requireEnv(who: string, name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${who}: ${name} is required`);
  return v;
}

export async function startChildStack(
  who: string,
  role: { http: boolean; workers: boolean },
  /** `playbook`: the chaos run's unless given (the benchmarks give theirs, test/bench/playbook.ts). */
  { playbook, ...extra }: Pick<StackOptions, 'clock' | 'engine'> & { playbook?: Playbook } = {},
) {
  const need = (name: string) => requireEnv(who, name);
  const env = { ...process.env, SANDBOX: 'true', PORT: '0' };
  const config = loadConfig(env);
  const log = createLogger(config.logLevel);
  const stack = await startStack({
    ...extra,
    config,
    playbook: playbook ?? chaosPlaybook(),
    remoteSandbox: {
      url: need('SANDBOX_URL'),
      portalId: need('SANDBOX_PORTAL_ID'),
      token: need('SANDBOX_TOKEN'),
      secret: need('SANDBOX_SECRET'),
    },
    http: role.http,
    // Both roles: as SERVICE_ROLE=all runs them (workers in a thread unless WORKER_THREAD=false).
    workers: role.workers && role.http && config.workerThread ? { thread: { env } } : role.workers,
    host: '127.0.0.1',
    log,
  });
  closeOnSignals(stack, log);
  return stack;
}
