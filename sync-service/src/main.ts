import { EXAMPLE_PLAYBOOKS, formatPlaybookErrors, loadPlaybookFile } from '@stagekeeper/shared';
import { ConfigError, loadConfig } from './config';
import { createLogger } from './log';
import { chooseRedis, RedisUnavailableError } from './redis-bootstrap';
import { Redis } from 'ioredis';
import { clearSandboxKeys, startSandbox, type Sandbox } from './sandbox-mode';
import { prepareQuickstart, quietLogsForDemo } from './demo/quickstart';
import { createTokenProvider } from './install/mode';
import { installRoutes } from './install/routes';
import { closeOnSignals } from './service';
import { startStack } from './stack';

/**
 * `npm start`: with no HubSpot credentials in the environment the service runs against the embedded sandbox
 * portal, so a first run needs no account and no configuration.
 */
async function main(): Promise<void> {
  const env = { ...process.env };
  const hasCredentials = Boolean(env.HUBSPOT_ACCESS_TOKEN || env.HUBSPOT_CLIENT_ID);
  if (!hasCredentials && env.SANDBOX === undefined) env.SANDBOX = 'true';
  // Sandbox runs keep to their own prefix, which is wiped at start (see clearSandboxKeys).
  if (env.SANDBOX === 'true' && env.KEY_PREFIX === undefined) env.KEY_PREFIX = 'sk-sandbox';
  quietLogsForDemo(env);

  const redis = await chooseRedis(env, '.data/redis');
  env.REDIS_URL = redis.url;
  const config = loadConfig(env);
  const log = createLogger(config.logLevel);
  log.info({ source: redis.source }, 'redis chosen');

  const playbookFile = config.playbookFile ?? EXAMPLE_PLAYBOOKS.telehealth;
  const loaded = loadPlaybookFile(playbookFile);
  if (!loaded.ok) {
    process.stderr.write(`${formatPlaybookErrors(loaded.errors, playbookFile)}\n`);
    await redis.stop();
    process.exit(1);
  }

  // Sandbox mode adds the local ops page and the demo driver (fast clock, round-the-clock playbook variant).
  const quick = config.sandbox ? prepareQuickstart(env, loaded.playbook) : undefined;
  const playbook = quick?.playbook ?? loaded.playbook;
  let sandbox: Sandbox | undefined;
  // One connection for the whole process's stores and queues (the workers duplicate it as BullMQ needs).
  const appRedis = new Redis(config.redisUrl, { maxRetriesPerRequest: 3 });
  appRedis.on('error', (err: Error) => log.warn({ err: err.message }, 'redis connection error (reconnecting)'));
  if (config.sandbox) {
    await clearSandboxKeys(appRedis, config.keyPrefix);
    sandbox = await startSandbox({
      playbook,
      ...(quick?.clock ? { now: quick.clock.now } : {}),
      ...(env.HUBSPOT_REQUEST_LOG ? { requestLog: env.HUBSPOT_REQUEST_LOG } : {}),
    });
    log.info({ portalId: sandbox.portalId, url: sandbox.server.url }, 'sandbox portal running (no HubSpot account needed)');
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
    ...(quick?.clock ? { clock: quick.clock.now } : {}),
    routers: [...(quick?.routers ?? []), ...oauthRouters],
    log,
  });
  log.info({ url: stack.service.url, portalId: stack.portalId }, 'stagekeeper ready');
  const extras = quick && sandbox ? quick.start(sandbox, stack) : undefined;

  closeOnSignals(
    {
      close: async () => {
        await extras?.close();
        await stack.close();
        await appRedis.quit();
        await sandbox?.close();
        await redis.stop();
      },
    },
    log,
  );
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError || err instanceof RedisUnavailableError) {
    process.stderr.write(`${err.message}\n`);
  } else {
    process.stderr.write(`stagekeeper failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  }
  process.exit(1);
});
