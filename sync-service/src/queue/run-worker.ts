import { UnrecoverableError, Worker, type ConnectionOptions, type Job, type WorkerOptions } from 'bullmq';
import { settleJobFailure } from '../hubspot/job-failures';
import { errorSummary, type Logger } from '../log';
import { jobDuration } from '../metrics';

/** Where a queue's BullMQ worker takes jobs from, and how many at once. */
export type WorkerConnection = {
  /** A connection that retries forever (`maxRetriesPerRequest: null`), as BullMQ requires of blocking ones. */
  connection: ConnectionOptions;
  prefix: string;
  concurrency: number;
  log: Logger;
};

type Schema<T> = { safeParse(v: unknown): { success: true; data: T } | { success: false } };

/**
 * A BullMQ worker for one queue: each job's payload checked against its schema, its duration observed, a
 * HubSpot failure turned into the right retry (hubspot/job-failures.ts), failures logged without their data.
 */
export function runWorker<T>(
  queue: string,
  schema: Schema<T> | null,
  run: (data: T, job: Job) => Promise<unknown>,
  w: WorkerConnection,
  /** What to keep of finished jobs whose own options do not say. */
  retention: Pick<WorkerOptions, 'removeOnComplete' | 'removeOnFail'> = {},
): Worker {
  const worker = new Worker(
    queue,
    async (job: Job, token?: string) => {
      const end = jobDuration.startTimer({ queue });
      try {
        const out = await run(parse(schema, job), job);
        end({ outcome: 'ok' });
        return out;
      } catch (err) {
        end({ outcome: 'error' });
        // A daily HubSpot limit delays the job to the reset; a 4xx is not retried as if transient.
        throw await settleJobFailure(err, job, token);
      }
    },
    { connection: w.connection, prefix: w.prefix, concurrency: w.concurrency, ...retention },
  );
  worker.on('failed', (job, err) =>
    w.log.warn(
      { queue: worker.name, jobId: job?.id, attempts: job?.attemptsMade, err: errorSummary(err) },
      'job failed',
    ),
  );
  worker.on('error', (err) => w.log.error({ queue: worker.name, err: errorSummary(err) }, 'worker error'));
  return worker;
}

function parse<T>(schema: Schema<T> | null, job: Job): T {
  if (!schema) return job.data as T;
  const r = schema.safeParse(job.data);
  // Retrying a job whose payload is wrong cannot help; fail it once, visibly.
  if (!r.success) throw new UnrecoverableError(`job ${job.id} has an invalid payload`);
  return r.data;
}
