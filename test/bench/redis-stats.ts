import type { Redis } from 'ioredis';

/**
 * Commands Redis has executed since it started (INFO commandstats, every command counted once, including those
 * run inside Lua scripts), less the INFO calls themselves. Only meaningful on a Redis the bench has to itself.
 */
export async function commandCount(redis: Redis): Promise<number> {
  const stats = await commandStats(redis);
  return Object.entries(stats).reduce((sum, [cmd, n]) => (cmd === 'info' ? sum : sum + n), 0);
}

export async function commandStats(redis: Redis): Promise<Record<string, number>> {
  const text = await redis.info('commandstats');
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

export async function usedMemory(redis: Redis): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
}

/**
 * Read events Redis has processed on client connections since it started (INFO stats total_reads_processed): about
 * one per round trip, however many commands a pipeline carried.
 */
export async function readEvents(redis: Redis): Promise<number> {
  return Number(/total_reads_processed:(\d+)/.exec(await redis.info('stats'))?.[1] ?? Number.NaN);
}
