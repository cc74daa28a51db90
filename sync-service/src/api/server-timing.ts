/**
 * One request's phase durations, sent as a Server-Timing header (W3C): a slow card answer says where its time went
 * (Redis, a rate slot, HubSpot), and what is left of the latency a client sees is the wait outside the handler
 * (the event loop, the network). Durations only; never values.
 */
export class ServerTiming {
  private readonly started = performance.now();
  private readonly entries = new Map<string, number>();

  /** Adds `ms` to the phase `name` (phases that run twice, or in parallel parts, add up). */
  add(name: string, ms: number): void {
    this.entries.set(name, (this.entries.get(name) ?? 0) + ms);
  }

  /** Times `work` as the phase `name`, whether it resolves or rejects. */
  async time<T>(name: string, work: Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      return await work;
    } finally {
      this.add(name, performance.now() - t0);
    }
  }

  /** `name;dur=ms, ...` with the handler's total so far last. */
  header(): string {
    const parts = [...this.entries].map(([name, ms]) => `${name};dur=${ms.toFixed(1)}`);
    parts.push(`total;dur=${(performance.now() - this.started).toFixed(1)}`);
    return parts.join(', ');
  }
}

/** The header read back (benches, tests): phase -> ms. */
export function parseServerTiming(header: string | null | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of (header ?? '').split(',')) {
    const m = /^\s*([\w-]+)\s*;\s*dur=([\d.]+)\s*$/.exec(part);
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}
