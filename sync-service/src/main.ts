import { EXAMPLE_PLAYBOOKS, formatPlaybookErrors, loadPlaybookFile } from '@stagekeeper/shared';
import {
  ConfigError,
  loadConfig,
  redisHostPort,
  SANDBOX_KEY_PREFIX,
  StartupError,
  startupProblem,
  type Config,
} from './config';
import { createLogger } from './log';
import { APP_REDIS_OPTIONS, chooseRedis, RedisUnavailableError, type RedisChoice } from './redis-bootstrap';
import { Redis } from 'ioredis';
import { clearSandboxKeys, startSandbox, type Sandbox } from './sandbox-mode';
import { prepareQuickstart, quietLogsForDemo, scorecardHint } from './demo/quickstart';
import { createTokenProvider } from './install/mode';
import { installRoutes } from './install/routes';
import { closeOnSignals } from './service';
import { startStack, waitForRedis } from './stack';

/** What a failed start has to undo: a redis-server it spawned must not outlive it. */
let startedRedis: RedisChoice | undefined;
let config: Config | undefined;

/**
 * `npm start`: with no HubSpot credentials in the environment the service runs against the embedded sandbox
 * portal, so a first run needs no account and no configuration.
 */
async function main(): Promise<void> {
  const env = { ...process.env };
  const hasCredentials = Boolean(env.HUBSPOT_ACCESS_TOKEN || env.HUBSPOT_CLIENT_ID);
  if (!hasCredentials && env.SANDBOX === undefined) env.SANDBOX = 'true';
  // Sandbox runs keep to their own prefix, which is wiped at start (see clearSandboxKeys).
  if (env.SANDBOX === 'true' && env.KEY_PREFIX === undefined) env.KEY_PREFIX = SANDBOX_KEY_PREFIX;
  quietLogsForDemo(env);
  // Every variable is checked before anything starts (a spawned redis-server included).
  loadConfig(env);

  const redis = await chooseRedis(env, '.data/redis');
  startedRedis = redis;
  env.REDIS_URL = redis.url;
  config = loadConfig(env);
  const log = createLogger(config.logLevel);
  log.info({ source: redis.source }, 'redis chosen');

  const playbookFile = config.playbookFile ?? EXAMPLE_PLAYBOOKS.telehealth;
  const loaded = loadPlaybookFile(playbookFile);
  if (!loaded.ok) {
    // Each problem keeps its file, line and path; the variable that named the file comes first.
    const where = config.playbookFile ? 'PLAYBOOK_FILE: ' : '';
    process.stderr.write(`${where}${formatPlaybookErrors(loaded.errors, playbookFile)}\n`);
    await redis.stop();
    process.exit(1);
  }

  // Sandbox mode adds the local ops page and the demo driver (fast clock, round-the-clock playbook variant).
  const quick = config.sandbox ? prepareQuickstart(env, loaded.playbook) : undefined;
  const playbook = quick?.playbook ?? loaded.playbook;
  let sandbox: Sandbox | undefined;
  // One connection for the whole process's stores and queues (the workers duplicate it as BullMQ needs).
  const appRedis = new Redis(config.redisUrl, APP_REDIS_OPTIONS);
  let lastRedisError: string | undefined;
  appRedis.on('error', (err: Error) => {
    lastRedisError = err.message;
    log.warn({ err: err.message }, 'redis connection error (reconnecting)');
  });
  // A Redis that is restarting gets its time; one that never answers is a one-line error naming REDIS_URL.
  await waitForRedis(appRedis, log, config.redisWaitMs).catch((err: unknown) => {
    appRedis.disconnect();
    throw new StartupError(
      `REDIS_URL: no answer from the Redis at ${redisHostPort(config!.redisUrl)} within ${config!.redisWaitMs / 1000} s ` +
        `(${lastRedisError ?? (err as Error).message}): start it, or fix REDIS_URL ` +
        '(unset, npm start uses 127.0.0.1:6379 or starts its own redis-server)',
    );
  });
  if (config.sandbox) {
    await clearSandboxKeys(appRedis, config.keyPrefix);
    sandbox = await startSandbox({
      playbook,
      ...(quick?.clock ? { now: quick.clock.now } : {}),
      ...(env.HUBSPOT_REQUEST_LOG ? { requestLog: env.HUBSPOT_REQUEST_LOG } : {}),
    });
    log.info(
      { portalId: sandbox.portalId, url: sandbox.server.url },
      'sandbox portal running (no HubSpot account needed)',
    );
  }

  // Real portals: one static token (private app), or OAuth installs with encrypted tokens and /oauth routes.
  const mode = sandbox ? undefined : await createTokenProvider(config, appRedis, { log });
  const oauthRouters = mode?.kind === 'oauth' ? [installRoutes(mode, { config, redis: appRedis, log })] : [];

  const stack = await startStack({
    config,
    playbook,
    ...(sandbox ? { sandbox } : {}),
    ...(mode ? { tokens: mode.tokens } : {}),
    redis: appRedis,
    redisWaitMs: config.redisWaitMs,
    ...(quick?.clock ? { clock: quick.clock.now } : {}),
    routers: [...(quick?.routers ?? []), ...oauthRouters],
    // A worker still answers on PORT for its health and metrics (its SLA and HubSpot counters live in it).
    http: config.role === 'worker' ? 'operations' : true,
    // SERVICE_ROLE=all: the workers in a thread of their own, so webhooks and cards keep this event loop.
    workers:
      config.role === 'all' && config.workerThread
        ? {
            thread: {
              env,
              ...(quick?.clock ? { clock: { origin: quick.clock.origin, speed: quick.clock.speed } } : {}),
            },
          }
        : config.role !== 'web',
    log,
  });
  log.info({ url: stack.service.url, portalId: stack.portalId, role: config.role }, 'stagekeeper ready');
  const extras = quick && sandbox ? quick.start(sandbox, stack) : undefined;
  const say = (line: string) => void process.stdout.write(`${line}\n`);
  if (sandbox)
    say(
      scorecardHint({
        redisUrl: config.redisUrl,
        redisSource: redis.source,
        keyPrefix: config.keyPrefix,
        portalId: sandbox.portalId,
      }),
    );

  if (sandbox) {
    // The demo turns info logs off: say on the console what Ctrl-C does (registered before the draining handler).
    const onStop = (signal: NodeJS.Signals) =>
      say(
        `${signal}: stopping — the demo stops, jobs in flight finish, then Redis and the sandbox close (again to quit at once)`,
      );
    process.once('SIGINT', onStop);
    process.once('SIGTERM', onStop);
  }
  closeOnSignals(
    {
      close: async () => {
        await extras?.close();
        await stack.close();
        await appRedis.quit();
        await sandbox?.close();
        await redis.stop();
        if (sandbox)
          say(
            `stopped${redis.source === 'spawned' ? ' (the redis-server it started too; its data stays in .data/redis)' : ''}`,
          );
      },
    },
    log,
  );
}

main().catch(async (err: unknown) => {
  const known = config ? startupProblem(err, config) : undefined;
  if (known) process.stderr.write(`${known.message}\n`);
  else if (
    err instanceof ConfigError ||
    err instanceof RedisUnavailableError ||
    err instanceof StartupError
  ) {
    process.stderr.write(`${err.message}\n`);
  } else {
    process.stderr.write(
      `stagekeeper failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
  }
  await startedRedis?.stop().catch(() => undefined);
  process.exit(1);
});
