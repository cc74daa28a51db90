import { BREACH_REASONS, type HistoryRow } from '@stagekeeper/shared';
import fc from 'fast-check';

/** Arbitrary stage history rows for the history codecs' property tests. */

export const token = fc.stringMatching(/^[A-Za-z0-9_.-]{1,12}$/);
export const reason = fc.constantFrom(...BREACH_REASONS);
export const ms = fc.integer({ min: 0, max: 2 ** 42 });

/** Rows as the engine writes them, optional fields present or absent (absent is not the same as null). */
export const rowArb: fc.Arbitrary<HistoryRow> = fc.record(
  {
    dealId: token,
    pipeline: token,
    stage: token,
    ownerRole: token,
    ownerId: fc.option(token, { nil: null }),
    enteredAt: ms,
    exitedAt: ms,
    businessMs: ms,
    toStage: fc.option(token, { nil: null }),
    direction: fc.constantFrom('forward', 'backward', 'exit'),
    slaOutcome: fc.constantFrom('met', 'breached', 'none', 'cancelled'),
    breachReason: fc.option(reason, { nil: null }),
    breachedAt: fc.option(ms, { nil: null }),
    breachReasonSource: fc.option(fc.constantFrom('inferred', 'manual'), { nil: null }),
    clock: token,
    breachEvidence: fc.array(token, { maxLength: 3 }),
    breachFacts: fc.record({
      ownerOpenTasks: fc.option(fc.nat(50), { nil: null }),
      capacityThreshold: fc.option(fc.nat(50), { nil: null }),
      unansweredAttempts: fc.nat(9),
      missingData: fc.nat(9),
      pendingActions: fc.nat(9),
      ownerChanges: fc.nat(9),
      noOwner: fc.boolean(),
      ownerOutsideRole: fc.option(fc.boolean(), { nil: null }),
    }),
    inferredReason: fc.option(reason, { nil: null }),
    corrections: fc.array(
      fc.record({
        at: ms,
        userId: fc.option(token, { nil: null }),
        from: fc.option(reason, { nil: null }),
        to: reason,
      }),
      { maxLength: 2 },
    ),
    // zod's record drops a `__proto__` key (prototype pollution guard), so no row the engine writes has one.
    dims: fc.dictionary(
      token.filter((k) => k !== '__proto__'),
      token,
      { maxKeys: 2, noNullPrototype: true },
    ),
    closureReason: token,
    inputs: fc.record(
      {
        entry: fc.oneof(emptyInputsAt(), inputsAtArb()),
        exit: fc.oneof(emptyInputsAt(), inputsAtArb()),
        pauses: fc.oneof(
          fc.array(fc.tuple(ms, ms), { maxLength: 0 }),
          fc.array(fc.tuple(ms, ms), { maxLength: 2 }),
        ),
        pauseKey: fc.oneof(fc.constant('[]'), fc.string()),
        evidence: fc.record(
          {
            ownerChanges: fc.oneof(fc.constant(0), fc.nat(9)),
            ownerChangesAt: fc.oneof(fc.array(ms, { maxLength: 0 }), fc.array(ms, { maxLength: 2 })),
            noOwner: fc.boolean(),
            unansweredAttempts: fc.oneof(fc.constant(0), fc.nat(9)),
            ownerOpenTasks: fc.oneof(fc.constant(0), fc.nat(9)),
          },
          { requiredKeys: ['ownerChanges', 'noOwner', 'unansweredAttempts'] },
        ),
      },
      { requiredKeys: ['entry', 'exit', 'pauses', 'pauseKey'] },
    ),
  },
  {
    requiredKeys: [
      'dealId',
      'pipeline',
      'stage',
      'ownerRole',
      'ownerId',
      'enteredAt',
      'exitedAt',
      'businessMs',
      'toStage',
      'direction',
      'slaOutcome',
      'breachReason',
    ],
  },
);

function emptyInputsAt() {
  return fc.constant(null).map(() => ({ props: {}, held: {} }));
}

function inputsAtArb() {
  const key = fc.stringMatching(/^[a-z]{1,6}$/).filter((k) => k !== '__proto__');
  return fc.record({
    props: fc.dictionary(key, fc.option(fc.stringMatching(/^[a-z0-9]{1,6}$/), { nil: null }), {
      maxKeys: 2,
      noNullPrototype: true,
    }),
    held: fc.dictionary(key, fc.boolean(), { maxKeys: 2, noNullPrototype: true }),
  });
}
