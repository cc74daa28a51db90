import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { examplePlaybookPath, loadExamplePlaybook, PLAYBOOK_SCHEMA_ID } from '@stagekeeper/shared';
import { describe, expect, it } from 'vitest';
import { runCaptured } from './testing';

const dir = mkdtempSync(join(tmpdir(), 'sk-cli-'));
const write = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const telehealth = examplePlaybookPath('telehealth');

describe('stagekeeper playbook', () => {
  it('validate: exit 0 and the pipeline and stage counts for a valid file', async () => {
    const r = await runCaptured(['playbook', 'validate', telehealth]);
    expect(r).toEqual({ code: 0, stdout: 'valid: 1 pipelines, 11 stages\n', stderr: '' });
  });

  it('validate: exit 1 with one line per problem, each with the file, line and playbook path', async () => {
    const file = write(
      'bad.yaml',
      'schemaVersion: 1\nname: Bad\ncalendars:\n  - id: c\n    timeZone: Mars/Olympus\n    hours: "24/7"\n',
    );
    const r = await runCaptured(['playbook', 'validate', file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toContain(
      `${file}:5: calendars[0].timeZone: expected an IANA time zone like "America/New_York", got "Mars/Olympus"`,
    );
    expect(lines.some((l) => l.startsWith(`${file}:`) && l.includes('roles'))).toBe(true);
  });

  it('validate: names each property the playbook reads without a webhook subscription, with the fix (exit 0)', async () => {
    const text = readFileSync(telehealth, 'utf8').replace(
      /lastInboundReply: \S+/,
      'lastInboundReply: portal_reply_seen_at',
    );
    expect(text).toContain('lastInboundReply: portal_reply_seen_at');
    const file = write('unsubscribed.yaml', text);
    const r = await runCaptured(['playbook', 'validate', file]);
    expect(r.code).toBe(0);
    const stages = loadExamplePlaybook('telehealth').pipelines.reduce((n, p) => n + p.stages.length, 0);
    expect(r.stdout).toBe(`valid: 1 pipelines, ${stages} stages\n`);
    expect(r.stderr).toBe(
      `${file}: warning: portal_reply_seen_at (read at signals.lastInboundReply) has no webhook subscription: ` +
        'add {"subscriptionType":"object.propertyChange","objectType":"deal","propertyName":"portal_reply_seen_at","active":true} ' +
        'to hubspot-app/app/webhooks/webhooks-hsmeta.json (or put the playbook in shared/playbooks and run `npm run gen:webhooks`), ' +
        'then `hs project upload`; until then changes to it are seen only by the sweep\n',
    );
  });

  it('validate: a missing file is one error line', async () => {
    const r = await runCaptured(['playbook', 'validate', join(dir, 'nope.yaml')]);
    expect(r).toMatchObject({
      code: 1,
      stderr: `${join(dir, 'nope.yaml')}: cannot read the file (ENOENT)\n`,
    });
  });

  it('schema: prints the JSON Schema as parseable JSON', async () => {
    const r = await runCaptured(['playbook', 'schema']);
    expect(r.code).toBe(0);
    const schema = JSON.parse(r.stdout);
    expect(schema.$id).toBe(PLAYBOOK_SCHEMA_ID);
    expect(schema.properties).toHaveProperty('pipelines');
  });
});

describe('stagekeeper help and usage errors', () => {
  it.each([
    [[], 'playbook'],
    [['playbook'], 'validate'],
    [['playbook', 'validate'], '<file>'],
    [['playbook', 'schema'], 'JSON Schema'],
    [['scorecard'], '--week <week>'],
    [['provision'], 'HUBSPOT_ACCESS_TOKEN'],
  ])('%j --help describes the command (exit 0)', async (path, expected) => {
    const r = await runCaptured([...path, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Usage: stagekeeper${path.length ? ` ${path.join(' ')}` : ''}`);
    expect(r.stdout).toContain(expected);
    expect(r.stdout.split('\n')[2]!.trim().length).toBeGreaterThan(10); // a description line under Usage
  });

  it.each([
    [
      ['scorecard', '--format', 'xml'],
      "error: option '--format <format>' argument 'xml' is invalid. Allowed choices are table, csv, json.\n",
    ],
    [['scorecard', '--wek', '1'], "error: unknown option '--wek'\n"],
    [
      ['scorecard', '--week', '2026-47'],
      'error: invalid week "2026-47": expected an ISO week like "2026-W47"\n',
    ],
    [['scorecard', '--week', '2025-W53'], 'error: invalid week "2025-W53": 2025 has weeks W01 to W52\n'],
    [
      ['scorecard', '--zone', 'Mars/Olympus'],
      'error: unknown time zone "Mars/Olympus": expected an IANA zone like "America/New_York"\n',
    ],
    [['scorecard', '--portal', '12;3'], 'error: invalid portal id "12;3": expected digits\n'],
    [['playbook', 'validate'], "error: missing required argument 'file'\n"],
    [['bogus'], "error: unknown command 'bogus'\n"],
  ])('%j: one error line, exit 1', async (args, message) => {
    const r = await runCaptured(args);
    expect(r).toEqual({ code: 1, stdout: '', stderr: message });
  });

  it('reports a bad environment without echoing values', async () => {
    const r = await runCaptured(['scorecard', '--portal', '1'], {
      REDIS_URL: 'http://secret-host',
      KEY_PREFIX: 'has space',
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'error: invalid environment: REDIS_URL: expected a redis:// or rediss:// URL; KEY_PREFIX: expected 1-32 letters, digits, "_" or "-"\n',
    );
  });

  it('says Redis is unreachable in one line, host and port only', async () => {
    const r = await runCaptured(['scorecard', '--portal', '1', '--week', '2026-W47'], {
      REDIS_URL: 'redis://:pw@127.0.0.1:1',
    });
    expect(r).toEqual({
      code: 1,
      stdout: '',
      stderr: 'error: cannot connect to Redis at 127.0.0.1:1 (ECONNREFUSED); set REDIS_URL\n',
    });
  });

  it('provision: missing token or portal is a one-line error before any network call', async () => {
    expect(await runCaptured(['provision'])).toMatchObject({
      code: 1,
      stderr: 'error: HUBSPOT_ACCESS_TOKEN is not set (a private-app token for the portal to provision)\n',
    });
    expect(
      await runCaptured(['provision', '--playbook', telehealth], { HUBSPOT_ACCESS_TOKEN: 'pat-x' }),
    ).toMatchObject({
      code: 1,
      stderr: 'error: HUBSPOT_PORTAL_ID is not set (the portal the token belongs to); or pass --portal ID\n',
    });
  });
});

describe('the installed entry points (real processes)', () => {
  const root = fileURLToPath(new URL('../../..', import.meta.url));
  const run = (cmd: string, args: string[]) =>
    spawnSync(cmd, args, { cwd: root, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });

  it('bin/stagekeeper.js validates a playbook with exit 0 and an invalid one with exit 1', () => {
    const ok = run(process.execPath, ['sync-service/bin/stagekeeper.js', 'playbook', 'validate', telehealth]);
    expect([ok.status, ok.stdout]).toEqual([0, 'valid: 1 pipelines, 11 stages\n']);
    const bad = run(process.execPath, [
      'sync-service/bin/stagekeeper.js',
      'playbook',
      'validate',
      write('empty.yaml', ''),
    ]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('expected a playbook, got an empty document');
    expect(bad.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('npx tsx sync-service/src/cli.ts fails a bad week with one line and exit 1', () => {
    const bad = run('npx', ['tsx', 'sync-service/src/cli.ts', 'scorecard', '--week', 'soon']);
    expect([bad.status, bad.stderr]).toEqual([
      1,
      'error: invalid week "soon": expected an ISO week like "2026-W47"\n',
    ]);
  });
});
