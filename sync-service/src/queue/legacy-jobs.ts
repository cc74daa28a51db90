import { Queue, type ConnectionOptions } from 'bullmq';
import { errorSummary, type Logger } from '../log';

/**
 * A BullMQ queue that only older versions of the service still fill (SLA timer jobs before the timer index,
 * reconcile jobs before the reconcile due set): such jobs must still run, so whether the queue holds any job is
 * looked up at start and then once a minute, and its draining worker is started only once some are found. A
 * deployment that never had such jobs pays one small read a minute and nothing per transition.
 */
export class LegacyJobs {
  readonly queue: Queue;
  private found = false;
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<boolean> | undefined;

  constructor(
    queueName: string,
    connection: ConnectionOptions,
    bullPrefix: string,
    protected readonly log: Logger,
    private readonly checkEveryMs = 60_000,
  ) {
    this.queue = new Queue(queueName, { connection, prefix: bullPrefix });
  }

  /** True while the last look found a job (pending, running or waiting out a retry). */
  get present(): boolean {
    return this.found;
  }

  /** Looks once now (awaited) and then every `checkEveryMs`; `onFound` is told each time jobs are found. */
  async start(onFound?: () => void): Promise<void> {
    if (await this.refresh()) onFound?.();
    this.timer = setInterval(() => {
      void this.refresh().then(
        (found) => found && onFound?.(),
        (err: unknown) =>
          this.log.warn({ queue: this.queue.name, err: errorSummary(err) }, 'could not look for legacy jobs'),
      );
    }, this.checkEveryMs);
    this.timer.unref();
  }

  /** One look at the legacy queue's counts. */
  async refresh(): Promise<boolean> {
    this.checking ??= (async () => {
      try {
        const counts = await this.queue.getJobCounts('delayed', 'waiting', 'active', 'prioritized', 'paused');
        this.found = Object.values(counts).some((n) => n > 0);
        return this.found;
      } finally {
        this.checking = undefined;
      }
    })();
    return this.checking;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.checking?.catch(() => undefined);
    await this.queue.close();
  }
}
