import type { Command, DealState, EngineResult } from '@stagekeeper/shared';
import { describe, expect, it } from 'vitest';
import { silentLogger } from './log';
import { createSettle, StateConflictError } from './settle';
import type { LoadedState } from './state/deal-state-store';
import { blankState } from './testing/fakes';

const NEW: LoadedState = { state: null, version: 0 };

const timer = (timerId: string): Command => ({
  type: 'scheduleTimer',
  timerId,
  kind: 'breach',
  entryId: '10:new:1',
  fireAt: 1,
});
const decision = (state: DealState | null, commands: Command[]): EngineResult => ({
  state,
  commands,
  decisions: [],
});

/** Records every effect in the order it happens; `saves` answers each compare-and-set in turn. */
function recorder(saves: boolean[]) {
  const calls: string[] = [];
  const settle = createSettle({
    gateway: {
      apply: async (_p, _d, cmds) => void calls.push(`hubspot:${cmds.map((c) => c.type).join(',')}`),
    },
    states: {
      save: async (_p, _d, version) => {
        calls.push(`save@${version}`);
        return saves.shift() ?? true;
      },
    },
    timers: {
      apply: async (_p, _d, cmds) =>
        cmds.flatMap((c) => {
          calls.push(`${c.type === 'scheduleTimer' ? 'schedule' : 'cancel'}:${c.timerId}`);
          return c.type === 'scheduleTimer' ? [c.timerId] : [];
        }),
    },
    pages: { enqueue: async (_p, _d, c) => void calls.push(`page:${c.type}`) },
    history: { append: async (_p, rows) => void calls.push(`history:${rows.length}`) },
    roundRobin: { advance: async (_p, roles) => void calls.push(`advance:${roles.join(',')}`) },
  });
  return { calls, settle };
}

describe('settle', () => {
  it('applies HubSpot writes, then timers, pages and history, and saves the state last', async () => {
    const { calls, settle } = recorder([true]);
    const commands: Command[] = [
      timer('t1'),
      { type: 'setProperties', properties: { a: '1' } },
      { type: 'advanceRoundRobin', role: 'nurse' },
    ];
    const out = await settle('1', '10', NEW, {
      decide: async () => decision(blankState('10'), commands),
      reload: async () => NEW,
      nothingToSave: () => false,
      attempts: 3,
      log: silentLogger,
    });
    expect(out.attempt).toBe(0);
    expect(calls).toEqual(['hubspot:setProperties', 'schedule:t1', 'history:0', 'save@0', 'advance:nurse']);
  });

  it('decides again on a fresh read when another save won, and cancels what only the lost attempt scheduled', async () => {
    const { calls, settle } = recorder([false, true]);
    let reads = 0;
    const out = await settle('1', '10', NEW, {
      decide: async ({ version }) =>
        decision(blankState('10'), version === 0 ? [timer('lost'), timer('kept')] : [timer('kept')]),
      reload: async () => ({ state: blankState('10'), version: ++reads }),
      nothingToSave: () => false,
      attempts: 3,
      log: silentLogger,
    });
    expect(out).toMatchObject({ attempt: 1, loaded: { version: 1 } });
    expect(calls.filter((c) => c.startsWith('save') || c.startsWith('cancel'))).toEqual([
      'save@0',
      'save@1',
      'cancel:lost',
    ]);
  });

  it('gives up after the attempts allowed, and makes no save when the decision leaves nothing to store', async () => {
    const { calls, settle } = recorder([false, false, false]);
    const steps = {
      decide: async () => decision(null, []),
      reload: async () => NEW,
      nothingToSave: () => false,
      attempts: 2,
      log: silentLogger,
    };
    await expect(settle('1', '10', NEW, steps)).rejects.toBeInstanceOf(StateConflictError);
    expect(calls.filter((c) => c.startsWith('save'))).toHaveLength(2);

    const quiet = recorder([false]);
    await quiet.settle('1', '10', NEW, { ...steps, nothingToSave: () => true });
    expect(quiet.calls.filter((c) => c.startsWith('save'))).toEqual([]);
  });
});
