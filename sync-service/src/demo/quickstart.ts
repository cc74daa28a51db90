import type { Playbook } from '@stagekeeper/shared';
import { DEFAULT_KEY_PREFIX, SANDBOX_KEY_PREFIX } from '../config';
import type { RedisChoice } from '../redis-bootstrap';
import { createLocalUi } from '../local-ui';
import type { Sandbox } from '../sandbox-mode';
import type { Stack } from '../stack';
import { scaledClockAt, type ScaledClock } from './clock';
import { demoSettings, startDemo, type Demo } from './index';
import { demoCompatible, demoPlaybook } from './playbook';

/**
 * Before the config is read: the demo tells its story on stdout, so the JSON logs drop to warnings unless
 * LOG_LEVEL says otherwise.
 */
export function quietLogsForDemo(env: NodeJS.ProcessEnv): void {
  if (env.SANDBOX === 'true' && demoSettings(env).enabled && !env.LOG_LEVEL) env.LOG_LEVEL = 'warn';
}

/**
 * The console line that names the sandbox's portal id and the exact command printing its weekly scorecard from
 * another terminal (REDIS_URL when npm start's Redis is not the default one, with any password masked; KEY_PREFIX
 * when it is not the sandbox's, which the CLI finds by itself).
 */
export function scorecardHint(o: {
  redisUrl: string;
  redisSource: RedisChoice['source'];
  keyPrefix: string;
  portalId: string;
}): string {
  const env: string[] = [];
  if (o.redisUrl !== 'redis://127.0.0.1:6379') {
    const u = new URL(o.redisUrl);
    if (u.password) u.password = '****';
    env.push(`REDIS_URL=${u.toString().replace(/\/$/, '')}`);
  }
  if (o.keyPrefix !== SANDBOX_KEY_PREFIX && o.keyPrefix !== DEFAULT_KEY_PREFIX)
    env.push(`KEY_PREFIX=${o.keyPrefix}`);
  const cmd = [...env, 'npm run stagekeeper -- scorecard --portal', o.portalId].join(' ');
  const lasts = o.redisSource === 'spawned' ? ' (while this runs: its redis-server stops with it)' : '';
  return `Sandbox portal ${o.portalId}. Its weekly scorecard from another terminal${lasts}: ${cmd}`;
}

export type Quickstart = ReturnType<typeof prepareQuickstart>;

/**
 * Sandbox mode's extras for `npm start`: the local ops page, and unless DEMO=false, the demo driver with its fast
 * clock and round-the-clock variant of the playbook. Prepared before the sandbox and the stack start (they take the
 * clock, playbook and routers), started once the stack is up. `clockStartedAt`: the real instant the demo clock is
 * taken to have started (now by default); earlier, demo time starts ahead of real time by (now - it) x (speed - 1).
 * Tests use it to keep a run clear of a week boundary.
 */
export function prepareQuickstart(
  env: NodeJS.ProcessEnv,
  loaded: Playbook,
  write: (line: string) => void = (l) => void process.stdout.write(`${l}\n`),
  { clockStartedAt = Date.now() }: { clockStartedAt?: number } = {},
) {
  const settings = demoSettings(env);
  const compatible = demoCompatible(loaded);
  if (settings.enabled && !compatible)
    write(
      'demo: off, the playbook in force is not the canonical telehealth one (its stages are what the demo drives)',
    );
  const clock: ScaledClock | undefined =
    settings.enabled && compatible ? scaledClockAt(clockStartedAt, settings.speed) : undefined;
  const playbook = clock ? demoPlaybook(loaded) : loaded;
  const ui = createLocalUi();

  return {
    playbook,
    clock,
    routers: ui.routers,
    /** Attaches the page to the running stack and starts the demo; `close` stops the demo before the stack goes. */
    start(sandbox: Sandbox, stack: Stack): { close(): Promise<void> } {
      const pageUrl = stack.service.url ? `${stack.service.url}/` : undefined;
      let demo: Demo | undefined;
      const now = clock?.now ?? Date.now;
      ui.attach({
        portalId: sandbox.portalId,
        clock: now,
        dealIds: () =>
          sandbox.portal.objects
            .all('deals')
            .sort((a, b) => b.createdAt - a.createdAt)
            .map((d) => d.id),
        states: stack.service.stores.states,
        playbooks: stack.service.stores.playbooks,
        weeks: stack.service.stores.weeks,
        ...(stack.api ? { whatIfData: stack.api.whatIfData } : {}),
        demo: () => demo?.status(),
        speed: clock?.speed ?? 1,
      });
      if (pageUrl) write(`Stagekeeper is running against the sandbox portal. Ops page: ${pageUrl}`);
      if (clock)
        demo = startDemo({
          portal: sandbox.portal,
          playbook,
          clock,
          write,
          ...(pageUrl ? { pageUrl } : {}),
        });
      return { close: async () => demo?.close() };
    },
  };
}
