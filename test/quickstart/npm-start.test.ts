import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { deleteKeys, REDIS_URL } from '../e2e/harness';
import { Scorecard } from '@stagekeeper/shared';
import { runCaptured } from '@stagekeeper/sync-service/cli/testing';
import { serviceProcess } from './processes';
import { until } from './until';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PREFIX = `sk-sandbox-qs-${randomUUID().slice(0, 8)}`;

type Counts = {
  tasks: number;
  warnings: number;
  breaches: number;
  escalations: number;
  gateBlocks: number;
  slaMet: number;
};

let child: ChildProcess | undefined;

afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    for (const pid of [serviceProcess(child.pid!), child.pid].filter(Boolean)) process.kill(pid!, 'SIGKILL');
  }
  // Only this run's keys: the Redis is shared.
  await deleteKeys(PREFIX);
});

describe('npm start on a machine with no HubSpot account', () => {
  it('runs the demo against the sandbox until a task, a warning, a breach with escalation and a gate block happened, then stops on SIGTERM', async () => {
    // What an evaluator's shell has: no HubSpot credentials and none of the service's variables set.
    const env: NodeJS.ProcessEnv = { ...process.env, KEY_PREFIX: PREFIX, PORT: '0', REDIS_URL };
    for (const k of [
      'HUBSPOT_ACCESS_TOKEN',
      'HUBSPOT_CLIENT_ID',
      'SANDBOX',
      'DEMO',
      'DEMO_SPEED',
      'LOG_LEVEL',
      'PLAYBOOK_FILE',
      'HUBSPOT_REQUEST_LOG',
    ])
      delete env[k];
    child = spawn('npm', ['start'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child!.once('exit', (code, signal) => resolve({ code, signal })),
    );

    const page = await until(
      'the ops page line',
      async () => /Ops page: (http:\/\/\S+)/.exec(stdout)?.[1],
      45_000,
    ).catch((err) => {
      throw new Error(`${(err as Error).message}\nstdout:\n${stdout}\nstderr:\n${stderr}`);
    });

    const counts = await until(
      'the demo to show every kind of intervention',
      async () => {
        const res = await fetch(`${page}sandbox/api/demo`);
        const body = (await res.json()) as { counts?: Counts };
        const c = body.counts;
        return c && c.tasks > 0 && c.warnings > 0 && c.breaches > 0 && c.escalations > 0 && c.gateBlocks > 0
          ? c
          : undefined;
      },
      60_000,
    );
    expect(counts.tasks).toBeGreaterThan(0);

    // The same facts, told on the console as plain lines.
    await until('the story lines', async () => (/escalation level 1/.test(stdout) ? true : undefined), 5_000);
    expect(stdout).toMatch(
      /deal \d+ · New Lead · gate blocked the move to Contact Attempted, reverting the move; missing: First contact attempt logged/,
    );
    expect(stdout).toMatch(/deal \d+ · New Lead · SLA warning/);
    expect(stdout).toMatch(/deal \d+ · New Lead · SLA breached/);
    expect(stdout).toMatch(
      /deal \d+ · New Lead · escalation level 1 at 100% of the SLA: task for the Growth Ops lead/,
    );
    expect(stdout).toMatch(/service created a task: "New Lead: First contact attempt logged" for owner \d+/);
    // The story stays readable: JSON logs are at warn level in the demo, and deal names never reach the console.
    expect(stdout).not.toMatch(/"level":30/);
    expect(stdout).not.toContain('Demo intake');

    // The page's deal list comes from the same service.
    const deals = (await (await fetch(`${page}sandbox/api/deals`)).json()) as { deals: { status: string }[] };
    expect(deals.deals.some((d) => d.status === 'breached')).toBe(true);

    // The console names the sandbox portal and the scorecard command; that command, run as printed, shows this
    // week's visits (the CLI's default week is the current one).
    const hint = /Sandbox portal (\d+)\. Its weekly scorecard from another terminal: (.*)$/m.exec(stdout);
    expect(hint, stdout).not.toBeNull();
    const words = hint![2]!.split(' ');
    const vars = Object.fromEntries(
      words.filter((w) => /^[A-Z_]+=/.test(w)).map((w) => w.split('=') as [string, string]),
    );
    expect(vars).toEqual({ KEY_PREFIX: PREFIX }); // REDIS_URL is the default one here
    expect(words.filter((w) => !w.includes('=')).join(' ')).toBe(
      `npm run stagekeeper -- scorecard --portal ${hint![1]}`,
    );
    const card = await until(
      'a finished stage visit in the scorecard',
      async () => {
        const r = await runCaptured(['scorecard', '--portal', hint![1]!, '--format', 'json'], {
          REDIS_URL,
          ...vars,
        });
        expect(r.stderr).toBe('');
        const parsed = Scorecard.parse(JSON.parse(r.stdout));
        return parsed.totals.volume > 0 ? parsed : undefined;
      },
      30_000,
    );
    expect(card.byStage.some((s) => s.stage.label === 'New Lead')).toBe(true);

    const pid = serviceProcess(child.pid!);
    expect(pid).toBeDefined();
    process.kill(pid!, 'SIGTERM');
    const exit = await exited;
    expect(exit, stderr).toEqual({ code: 0, signal: null });
    // What Ctrl-C (or SIGTERM) does is said on the console, and that it finished.
    expect(stdout).toContain(
      'SIGTERM: stopping — the demo stops, jobs in flight finish, then Redis and the sandbox close',
    );
    expect(stdout.trimEnd().split('\n').at(-1)).toBe('stopped');
  });
});
