import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { redisKeys } from '../state/keys';
import { deletePrefix, testPrefix, testRedis } from '../testing/fakes';
import { runCaptured } from './testing';

const prefix = testPrefix();
const redis = testRedis();
const env = {
  REDIS_URL: 'redis://127.0.0.1:6379',
  KEY_PREFIX: prefix,
  TOKEN_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
};

afterAll(async () => {
  await deletePrefix(redis, prefix);
  await redis.quit();
});

describe('stagekeeper channels', () => {
  it('adds channels (secret from the environment), lists them masked, switches the default and removes', async () => {
    const slack = await runCaptured(['channels', 'add', 'ops-slack', '--kind', 'slack', '--portal', '901'], {
      ...env,
      STAGEKEEPER_CHANNEL_URL: 'https://hooks.slack.com/services/T1/B1/verysecretpartABCD',
    });
    expect(slack).toMatchObject({ code: 0, stderr: '' });
    expect(slack.stdout).toBe(
      'saved: channel ops-slack for portal 901\n* ops-slack  slack  hooks.slack.com (…ABCD)  not used yet\n',
    );
    const pd = await runCaptured(
      [
        'channels',
        'add',
        'pd',
        '--kind',
        'pagerduty',
        '--routing-key',
        'Q'.repeat(32),
        '--default',
        '--portal',
        '901',
      ],
      env,
    );
    expect(pd.code).toBe(0);
    const list = await runCaptured(['channels', 'list', '--portal', '901'], env);
    expect(list.stdout).toBe(
      '  ops-slack  slack  hooks.slack.com (…ABCD)  not used yet\n* pd  pagerduty  routing key …QQQQ  not used yet\n',
    );
    expect(list.stdout).not.toContain('verysecret');
    expect(await redis.get(redisKeys(prefix).notifyChannels('901'))).not.toContain('verysecret');
    expect((await runCaptured(['channels', 'default', 'none', '--portal', '901'], env)).stdout).not.toContain(
      '*',
    );
    const removed = await runCaptured(['channels', 'remove', 'pd', '--portal', '901'], env);
    expect(removed.stdout).toBe('  ops-slack  slack  hooks.slack.com (…ABCD)  not used yet\n');
  });

  it('an invalid channel is one line naming the field; without TOKEN_ENCRYPTION_KEY it says so', async () => {
    const bad = await runCaptured(
      [
        'channels',
        'add',
        'hook',
        '--kind',
        'webhook',
        '--url',
        'http://example.com/x',
        '--secret',
        'x'.repeat(20),
        '--portal',
        '901',
      ],
      env,
    );
    expect(bad).toMatchObject({
      code: 1,
      stdout: '',
      stderr: 'error: The channel settings are not valid.; url: expected an https:// URL\n',
    });
    const { TOKEN_ENCRYPTION_KEY: _k, ...noKey } = env;
    const none = await runCaptured(
      [
        'channels',
        'add',
        's',
        '--kind',
        'slack',
        '--url',
        'https://hooks.slack.com/services/a',
        '--portal',
        '901',
      ],
      noKey,
    );
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('TOKEN_ENCRYPTION_KEY');
    const unknown = await runCaptured(['channels', 'test', 'nope', '--portal', '901'], env);
    expect(unknown).toMatchObject({ code: 1, stderr: 'error: There is no channel "nope".\n' });
  });
});
