import { P, type Command, type EngineResult } from '@stagekeeper/shared';
import { sharedEngine, type Engine } from '@stagekeeper/sync-service/decide';

/** Faults a chaos run can inject into the engine to prove the verifier sees them (CHAOS_ENGINE_BUG). */
export const ENGINE_BUGS = ['due-plus-1m'] as const;
export type EngineBug = (typeof ENGINE_BUGS)[number];

const MINUTE = 60_000;

/**
 * `due-plus-1m`: an off-by-one-minute in every SLA due time: the SLA task, the due-at property and the breach
 * timer all one minute late, consistently, as a wrong duration conversion in the engine would make them.
 * A verifier that replays through the same engine agrees with it; one that computes due = entry + target from
 * the playbook does not.
 */
export function buggyEngine(bug: EngineBug): Engine {
  const shift = (r: EngineResult): EngineResult => ({
    ...r,
    commands: r.commands.map((c): Command => {
      if (c.type === 'createTask' && c.key.endsWith(':sla')) return { ...c, dueAt: c.dueAt + MINUTE };
      if (c.type === 'rescheduleTask' && c.key.endsWith(':sla')) return { ...c, dueAt: c.dueAt + MINUTE };
      if (c.type === 'scheduleTimer' && c.timerId.endsWith(':breach'))
        return { ...c, fireAt: c.fireAt + MINUTE };
      if (c.type === 'setProperties' && c.properties[P.slaDueAt]) {
        const due = Number(c.properties[P.slaDueAt]);
        return Number.isFinite(due)
          ? { ...c, properties: { ...c.properties, [P.slaDueAt]: String(due + MINUTE) } }
          : c;
      }
      return c;
    }),
  });
  if (bug !== 'due-plus-1m') throw new Error(`unknown engine bug ${String(bug)}`);
  return {
    requiredProperties: sharedEngine.requiredProperties,
    reconcile: (input) => shift(sharedEngine.reconcile(input)),
    onTimer: (input) => shift(sharedEngine.onTimer(input)),
  };
}
