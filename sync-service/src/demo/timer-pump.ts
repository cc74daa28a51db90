import type { Queue } from 'bullmq';

type TimerQueueLike = Pick<Queue<{ fireAt: number }>, 'getDelayed'>;

/**
 * BullMQ waits real milliseconds: a timer due 15 demo minutes from now would sleep 15 real minutes. The pump
 * promotes each delayed timer job as soon as the demo clock passes its `fireAt`, the same way the end-to-end
 * harness fires timers on its manual clock. The service itself is unchanged, so the demo exercises exactly the
 * code a real portal runs.
 *
 * Jobs that already failed once are left to BullMQ: their delay is the retry backoff, not an SLA instant, and
 * promoting them would burn every attempt in a burst.
 */
export function startTimerPump(
  queue: TimerQueueLike,
  clock: () => number,
  intervalMs = 100,
): { stop(): Promise<void> } {
  let stopped = false;
  let running: Promise<void> | undefined;

  const tick = async () => {
    const now = clock();
    const delayed = await queue.getDelayed();
    for (const job of delayed) {
      if (job.attemptsMade > 0 || job.data.fireAt > now) continue;
      // Rescheduled or cancelled between the read and the promote: nothing left to fire.
      await job.promote().catch(() => undefined);
    }
  };

  const timer = setInterval(() => {
    // A slow Redis must not pile ticks up behind each other.
    if (stopped || running) return;
    running = tick()
      .catch(() => undefined)
      .finally(() => {
        running = undefined;
      });
  }, intervalMs);
  timer.unref();

  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
