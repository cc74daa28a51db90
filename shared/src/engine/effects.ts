import type { Command, DealState, Decision, EngineResult } from './types';

/** The trail keeps this many events; older ones drop off (the card shows the story of recent changes). */
export const TRAIL_MAX = 50;

/**
 * Collects what one engine call decides. Property writes are merged into a single setProperties command so a
 * stage exit and the next entry in the same call end with the entry's values, written in one request.
 */
export class Effects {
  readonly commands: Command[] = [];
  readonly decisions: Decision[] = [];
  private readonly props = new Map<string, string>();
  private readonly needs = new Set<string>();

  push(...commands: Command[]): void {
    this.commands.push(...commands);
  }

  decide(rule: string, detail: string): void {
    this.decisions.push({ rule, detail });
  }

  /** A decision and a line in the deal's trail (what the card shows as the deal's story). */
  record(state: DealState, at: number, rule: string, detail: string): void {
    this.decide(rule, detail);
    state.trail = [...(state.trail ?? []), { at, rule, detail }].slice(-TRAIL_MAX);
  }

  /** The decision needs these owners' open-task counts, which the service reads before deciding again. */
  needOpenTasksOf(ownerIds: readonly string[]): void {
    for (const id of ownerIds) this.needs.add(id);
  }

  set(properties: Record<string, string>): void {
    for (const [k, v] of Object.entries(properties)) this.props.set(k, v);
  }

  /** Takes over an earlier result's output, so two steps of one call still write properties once. */
  absorb(result: EngineResult): void {
    for (const c of result.commands) {
      if (c.type === 'setProperties') this.set(c.properties);
      else this.commands.push(c);
    }
    this.decisions.push(...result.decisions);
    this.needOpenTasksOf(result.needsOpenTasksOf ?? []);
  }

  result(state: DealState | null): EngineResult {
    const commands = [...this.commands];
    if (this.props.size > 0)
      commands.push({ type: 'setProperties', properties: Object.fromEntries(this.props) });
    return {
      state,
      commands,
      decisions: [...this.decisions],
      ...(this.needs.size > 0 ? { needsOpenTasksOf: [...this.needs] } : {}),
    };
  }
}

/** HubSpot datetime properties take epoch milliseconds as a string. */
export const msProp = (ms: number | null | undefined): string =>
  ms === null || ms === undefined ? '' : String(ms);

export const iso = (ms: number): string => new Date(ms).toISOString();
