/**
 * The workers' young generation (V8's nursery, where a transition's short-lived objects are born and die).
 * V8's default semi-space of 16 MB fills every few dozen deals of a bulk move: each scavenge copies the batch's
 * live objects and promotes many to the old generation, whose concurrent marking and sweeping run on V8's helper
 * threads. The cost bench (test/bench/cost.ts, 1,000 deals), the same code with 16 and 64 MB, interleaved:
 *
 * | semi-space | steady CPU per move | bulk CPU per deal | V8 helper threads, steady / bulk | peak RSS |
 * |---|---|---|---|---|
 * | 16 MB (V8's default) | 10.05, 9.16 ms | 2.04, 2.78 ms | 0.95, 0.63 / 1.04, 1.43 s | 408, 393 MB |
 * | 64 MB | 8.71, 8.06 ms | 2.26, 1.73 ms | 0.66, 0.54 / 0.97, 0.71 s | 487, 498 MB |
 *
 * Steady traffic costs ~12 % less; the helper threads' share falls in every pair; bulk moves with the machine's
 * noise (three more pairs set by NODE_OPTIONS agreed: 2.31-2.48 ms against 1.68-1.73). The price is ~90 MB more
 * at the peak of a bulk move: V8 grows the nursery towards the limit only while allocation is heavy.
 */
export const WORKER_SEMI_SPACE_MB = 64;

/**
 * A worker thread's resource limits (SERVICE_ROLE=all, worker-thread.ts). V8 sizes a young generation at three
 * semi-spaces (two, plus as much for new large objects), so this gives the thread WORKER_SEMI_SPACE_MB.
 */
export const workerResourceLimits = { maxYoungGenerationSizeMb: 3 * WORKER_SEMI_SPACE_MB };

/** The same for a process's main thread, as Node flags: `npm run start:prod` carries them (a test holds the two equal). */
export const WORKER_NODE_FLAGS = [`--max-semi-space-size=${WORKER_SEMI_SPACE_MB}`];
