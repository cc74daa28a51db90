import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

/** A port nobody listens on right now (the OS picks it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * A private redis-server on its own port and temp dir, so a chaos run can stop and start it without touching the
 * shared Redis. Append-only file with fsync on every write: a clean stop (SIGTERM) and restart keeps every queue
 * and state write; without persistence a restart would lose every queued reconcile, every armed timer and every
 * deal state (the sweep would then have to rebuild state from HubSpot, and timers would be lost until a reconcile).
 */
export class OwnRedis {
  readonly dir = mkdtempSync(join(tmpdir(), 'sk-chaos-redis-'));
  private proc: ChildProcess | undefined;
  restarts = 0;

  private constructor(
    readonly port: number,
    private readonly persist: boolean,
  ) {}

  /** `persist: false` for measurements (benchmarks) where fsync on every write would be the thing measured. */
  static async start(opts: { persist?: boolean } = {}): Promise<OwnRedis> {
    const r = new OwnRedis(await freePort(), opts.persist ?? true);
    await r.up();
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  private async up(): Promise<void> {
    this.proc = spawn(
      'redis-server',
      [
        ...[
          '--port',
          String(this.port),
          '--bind',
          '127.0.0.1',
          '--dir',
          this.dir,
          '--save',
          '',
          '--protected-mode',
          'no',
        ],
        ...['--maxmemory-policy', 'noeviction'],
        ...(this.persist ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
      ],
      { stdio: 'ignore' },
    );
    const deadline = Date.now() + 10_000;
    for (;;) {
      const probe = new Redis(this.url, {
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      probe.on('error', () => undefined); // refused until the server listens: that is what the loop waits for
      try {
        await probe.connect();
        // Loading the AOF answers LOADING errors until done.
        if ((await probe.ping()) === 'PONG') {
          probe.disconnect();
          return;
        }
      } catch {
        probe.disconnect();
      }
      if (Date.now() > deadline) throw new Error('own redis-server did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** SIGTERM: redis-server finishes the AOF and exits; clients see connection refused until `restart`. */
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGTERM');
    await exited;
    this.proc = undefined;
  }

  /** Restarts not counting `dataLosses`: those came back with their data (AOF). */
  dataLosses = 0;

  /**
   * `wipe`: the restart loses everything, as a Redis without persistence (or a replacement node) does: the AOF is
   * removed while the server is down.
   */
  async restart(downMs: number, opts: { wipe?: boolean } = {}): Promise<void> {
    await this.stop();
    if (opts.wipe) {
      for (const f of readdirSync(this.dir)) rmSync(join(this.dir, f), { recursive: true, force: true });
      this.dataLosses++;
    }
    await new Promise((r) => setTimeout(r, downMs));
    await this.up();
    this.restarts++;
  }

  async close(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
