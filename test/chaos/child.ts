/**
 * One Stagekeeper process of a chaos run: `CHAOS_ROLE=web` (HTTP only) or `worker` (workers only), against the
 * chaos Redis and the sandbox portal that lives in the parent (test) process, reached over HTTP (child-stack.ts).
 * Prints one `{"chaosReady":…}` line on stdout once it serves; SIGTERM drains and exits like production.
 */
import { requireEnv, startChildStack } from './child-stack';
import { buggyEngine, ENGINE_BUGS, type EngineBug } from './engine-bug';

const WHO = 'chaos child';
const role = requireEnv(WHO, 'CHAOS_ROLE');
if (role !== 'web' && role !== 'worker')
  throw new Error(`chaos child: CHAOS_ROLE must be web or worker, got ${role}`);

// The run's fast clock, the same formula as the parent's (demo/clock.ts): origin plus real time times the speed.
const origin = Number(requireEnv(WHO, 'CHAOS_CLOCK_ORIGIN'));
const speed = Number(requireEnv(WHO, 'CHAOS_SPEED'));
const clock = () => Math.round(origin + (Date.now() - origin) * speed);
const bug = process.env.CHAOS_ENGINE_BUG as EngineBug | undefined;
if (bug !== undefined && !ENGINE_BUGS.includes(bug))
  throw new Error(`chaos child: unknown CHAOS_ENGINE_BUG ${bug}`);
const stack = await startChildStack(
  WHO,
  { http: role === 'web', workers: role === 'worker' },
  { clock, ...(bug ? { engine: buggyEngine(bug) } : {}) },
);
process.stdout.write(
  `${JSON.stringify({ chaosReady: { role, pid: process.pid, url: stack.service.url } })}\n`,
);
