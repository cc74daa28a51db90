import { isAscii } from 'node:buffer';
import { HistoryRowSchema, type HistoryRow, type VisitInputs } from '@stagekeeper/shared';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import {
  decodeChunkRecord,
  decodeHistoryChunk,
  decodeHistoryChunkBytes,
  decodeHistoryRow,
  encodeChunkRecord,
  encodeHistoryRow,
} from './history-row-codec';
import { ms, rowArb } from '../testing/history-row-arb';

describe('history row codec', () => {
  it('decodes what it encodes, field for field (absent stays absent)', () => {
    fc.assert(
      fc.property(rowArb, (row) => {
        expect(HistoryRowSchema.parse(row)).toEqual(row); // the arbitrary makes valid rows only
        const back = decodeHistoryRow(encodeHistoryRow(row));
        expect(back).toEqual(row);
        expect(Object.keys(back!).sort()).toEqual(Object.keys(row).sort());
      }),
    );
  });

  it('reads rows stored in the old encoding (the row as a JSON object) the same as new ones', () => {
    fc.assert(
      fc.property(rowArb, (row) => {
        const old = decodeHistoryRow(JSON.stringify(row));
        expect(old).toEqual(decodeHistoryRow(encodeHistoryRow(row)));
        expect(Object.keys(old!).sort()).toEqual(Object.keys(row).sort());
      }),
    );
  });

  it('is smaller than the old encoding', () => {
    fc.assert(fc.property(rowArb, (row) => encodeHistoryRow(row).length < JSON.stringify(row).length));
  });

  it('stores a typical visit in under 200 bytes: empty inputs and zero evidence are left out', () => {
    // What the engine records for a stage without criteria or pauses: the common row (the cost bench's).
    const row: HistoryRow = {
      ...weekOf(1)[0]!,
      dealId: '123456789012',
      pipeline: 'default',
      stage: 'appointmentscheduled',
      ownerRole: 'intake',
      ownerId: '987654321',
      enteredAt: 1_764_000_000_000,
      exitedAt: 1_764_000_500_000,
      businessMs: 500_000,
      toStage: 'qualifiedtobuy',
      inputs: typicalInputs(),
    };
    const record = encodeHistoryRow(row);
    expect(record.length).toBeLessThan(200);
    expect(decodeHistoryRow(record)).toEqual(row);
    // As the encoder wrote it before inputs were compacted (the trailing object holding `inputs` whole).
    const { inputs: full, ...fixed } = row;
    const before = `${encodeHistoryRow(fixed).slice(0, -1)},${JSON.stringify({ inputs: full })}]`;
    expect(decodeHistoryRow(before)).toEqual(row);
    expect(decodeHistoryChunk(`${before}\n${record}\n`, [])).toEqual({ corrupt: 0 });
    // Without evidence (a deleted deal's visit), and with the optional evidence fields absent: still exact.
    const { evidence, ...noEvidence } = row.inputs!;
    const { ownerChangesAt: _a, ownerOpenTasks: _b, ...bare } = evidence!;
    const variants: VisitInputs[] = [noEvidence, { ...noEvidence, evidence: bare }];
    for (const inputs of variants) {
      const back = decodeHistoryRow(encodeHistoryRow({ ...row, inputs }));
      expect(back).toEqual({ ...row, inputs });
      expect(Object.keys(back!.inputs!).sort()).toEqual(Object.keys(inputs).sort());
      expect(Object.keys(back!.inputs!.evidence ?? {}).sort()).toEqual(
        Object.keys(inputs.evidence ?? {}).sort(),
      );
    }
  });

  it('reads a chunk of typical visits (inputs with nothing to report) without JSON.parse', () => {
    const rows = weekOf(50).map((r) => ({ ...r, inputs: typicalInputs() }));
    const chunk = rows.map(encodeChunkRecord).join('');
    const parse = vi.spyOn(JSON, 'parse');
    try {
      const got: HistoryRow[] = [];
      expect(decodeHistoryChunk(chunk, got)).toEqual({ corrupt: 0 });
      expect(parse).not.toHaveBeenCalled();
      expect(got).toEqual(rows);
      // Each row its own inputs: a caller changing one changes no other.
      expect(got[0]!.inputs).not.toBe(got[1]!.inputs);
      expect(got[0]!.inputs!.evidence).not.toBe(got[1]!.inputs!.evidence);
    } finally {
      parse.mockRestore();
    }
  });

  it('refuses what the row schema refuses, in either encoding', () => {
    const good = encodeHistoryRow({
      dealId: '1',
      pipeline: 'p',
      stage: 's',
      ownerRole: 'r',
      ownerId: null,
      enteredAt: 1,
      exitedAt: 2,
      businessMs: 1,
      toStage: null,
      direction: 'forward',
      slaOutcome: 'met',
      breachReason: null,
      breachedAt: null,
      breachReasonSource: null,
    });
    const parts = JSON.parse(good) as unknown[];
    const variant = (i: number, v: unknown) => JSON.stringify(parts.map((p, j) => (j === i ? v : p)));
    expect(decodeHistoryRow(good)).not.toBeNull();
    for (const bad of [
      'not json',
      '{"dealId":1}',
      '[2' + good.slice(2), // an unknown version
      JSON.stringify(parts.slice(0, 10)),
      variant(1, 7), // dealId not a string
      variant(6, '1'), // enteredAt not a number
      variant(10, 'sideways'),
      variant(11, 'late'),
      variant(12, 'bad luck'),
      variant(13, 'yesterday'),
      variant(14, 'guessed'),
      JSON.stringify([...parts, { corrections: 'none' }]),
      JSON.stringify([...parts, { in: { pauses: 'none' } }]), // compacted inputs, still checked
      JSON.stringify([...parts, { in: { evidence: { noOwner: 1 } } }]),
      JSON.stringify([...parts, { in: {}, inputs: { pauses: [] } }]), // both spellings: none the encoder writes
    ])
      expect(decodeHistoryRow(bad)).toBeNull();
  });

  it('decodes a chunk of packed rows in order, skipping tombstones, as one record at a time would', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(rowArb, fc.boolean()), { maxLength: 20 }), (entries) => {
        // A superseded record is overwritten in place by "0" and spaces, its length unchanged.
        const chunk = entries
          .map(([row, dead]) => {
            const record = encodeChunkRecord(row);
            return dead ? `0${' '.repeat(record.length - 2)}\n` : record;
          })
          .join('');
        const rows: HistoryRow[] = [];
        expect(decodeHistoryChunk(chunk, rows)).toEqual({ corrupt: 0 });
        const live = entries.filter(([, dead]) => !dead).map(([row]) => row);
        expect(rows).toEqual(live);
        for (const row of live) expect(decodeChunkRecord(encodeChunkRecord(row).slice(0, -1))).toEqual(row);
      }),
    );
  });

  it('with an exit range, keeps exactly the rows a filter after decoding would keep, whole or damaged', () => {
    fc.assert(
      fc.property(fc.array(anyTextRowArb, { maxLength: 20 }), ms, ms, fc.nat(), (rows, a, b, pick) => {
        // Half the time, bounds on rows' own exits: the boundaries are where an off-by-one would show.
        const exitOf = (k: number) => rows[k % rows.length]!.exitedAt;
        const [x, y] = pick % 2 && rows.length > 0 ? [exitOf(pick), exitOf(pick >> 1)] : [a, b];
        const exits = { from: Math.min(x, y), to: Math.max(x, y) + (pick % 4 === 1 ? 1 : 0) };
        const inRange = (r: HistoryRow) => r.exitedAt >= exits.from && r.exitedAt < exits.to;
        const chunk = rows.map(encodeChunkRecord).join('');
        const whole: HistoryRow[] = [];
        expect(decodeHistoryChunk(chunk, whole, exits)).toEqual({ corrupt: 0 });
        expect(whole).toEqual(rows.filter(inRange));
        // Damaged: decoded record by record, filtered the same way.
        const damaged: HistoryRow[] = [];
        expect(decodeHistoryChunk(`${chunk}[1,"cut short\n`, damaged, exits)).toEqual({ corrupt: 1 });
        expect(damaged).toEqual(rows.filter(inRange));
      }),
    );
  });

  it('reads any text, damaged anywhere, as JSON.parse of each record would (the fast reader never differs)', () => {
    const piece = fc
      .array(
        fc.constantFrom(
          '0',
          '1',
          '-',
          '.',
          'e',
          '"',
          '\\',
          '\n',
          ',',
          '[',
          ']',
          '{',
          ' ',
          'n',
          '\u0001',
          'é',
        ),
        {
          maxLength: 3,
        },
      )
      .map((cs) => cs.join(''));
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            rowArb,
            anyTextRowArb,
            rowArb.map((r) => ({ ...r, inputs: typicalInputs() })),
          ),
          { minLength: 1, maxLength: 6 },
        ),
        fc.array(fc.tuple(fc.nat(), piece), { maxLength: 4 }),
        (rows, edits) => {
          let chunk = rows.map(encodeChunkRecord).join('');
          for (const [at, text] of edits) {
            const i = at % (chunk.length + 1);
            chunk = chunk.slice(0, i) + text + chunk.slice(i + 1);
          }
          const expected: HistoryRow[] = [];
          let corrupt = 0;
          for (const record of chunk.split('\n')) {
            if (record.length === 0 || /^0 *$/.test(record)) continue;
            const row = decodeChunkRecord(record);
            if (row) expected.push(row);
            else corrupt++;
          }
          const got: HistoryRow[] = [];
          expect(decodeHistoryChunk(chunk, got)).toEqual({ corrupt });
          expect(got).toEqual(expected);
          // Without inputs (the scorecard's read): the same, record by record, with inputs left unread.
          const bare: HistoryRow[] = [];
          let bareCorrupt = 0;
          for (const record of chunk.split('\n')) {
            if (record.length === 0 || /^0 *$/.test(record)) continue;
            const row = decodeChunkRecord(record, false);
            if (row) bare.push(row);
            else bareCorrupt++;
          }
          const gotBare: HistoryRow[] = [];
          expect(decodeHistoryChunk(chunk, gotBare, undefined, false)).toEqual({ corrupt: bareCorrupt });
          expect(gotBare).toEqual(bare);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('reads a stored chunk in record-aligned pieces exactly as its whole text, damage and UTF-8 included', () => {
    // The whole-text reference is how chunks were read before pieces: Latin-1 when ASCII, else UTF-8.
    const whole = (bytes: Buffer) => bytes.toString(isAscii(bytes) ? 'latin1' : 'utf8');
    const damage = fc.constantFrom('', '\n', '[1,"cut short\n', '0    \n', '\n\n', '{"é":\n');
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.oneof(
              rowArb,
              anyTextRowArb,
              rowArb.map((r) => ({ ...r, inputs: typicalInputs() })),
            ),
            damage,
          ),
          { maxLength: 12 },
        ),
        fc.integer({ min: 1, max: 400 }),
        fc.option(fc.tuple(ms, ms), { nil: undefined }),
        fc.boolean(),
        (records, pieceBytes, range, inputs) => {
          const bytes = Buffer.from(records.map(([row, bad]) => encodeChunkRecord(row) + bad).join(''));
          const exits = range && { from: Math.min(...range), to: Math.max(...range) };
          const expected: HistoryRow[] = [];
          const expectedCounts = decodeHistoryChunk(whole(bytes), expected, exits, inputs);
          const got: HistoryRow[] = [];
          expect(decodeHistoryChunkBytes(bytes, got, exits, inputs, pieceBytes)).toEqual(expectedCounts);
          expect(got).toEqual(expected);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('without inputs, reads every row as it was written less its inputs, each with one JSON.parse at most', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            rowArb,
            rowArb.map((r) => ({ ...r, inputs: typicalInputs() })),
          ),
          { maxLength: 20 },
        ),
        (rows) => {
          const chunk = rows.map(encodeChunkRecord).join('');
          const parse = vi.spyOn(JSON, 'parse');
          try {
            const got: HistoryRow[] = [];
            expect(decodeHistoryChunk(chunk, got, undefined, false)).toEqual({ corrupt: 0 });
            expect(got).toEqual(rows.map(({ inputs: _inputs, ...rest }) => rest));
            // The trailing object alone, and only where it holds more than empty inputs.
            expect(parse.mock.calls.length).toBeLessThanOrEqual(rows.length);
            for (const [text] of parse.mock.calls) expect(text.startsWith('{')).toBe(true);
          } finally {
            parse.mockRestore();
          }
        },
      ),
    );
  });

  it('refuses, record by record, what JSON refuses even where the fast reader could read on', () => {
    const sample = { ...weekOf(1)[0]!, enteredAt: 1_764_000_000_000, exitedAt: 1_764_000_500_000 };
    const good = encodeHistoryRow(sample);
    const entered = String(sample.enteredAt);
    const bad = [
      good.replace(entered, `0${entered}`), // a leading zero
      good.replace(entered, `-0${entered}`),
      good.replace(entered, `${entered}.`),
      good.replace(entered, '-'),
      good.replace(entered, '1'.repeat(400)), // no longer exact, but JSON still: kept, as JSON.parse reads it
      good.replace('"', '"\u0001'), // a raw control character in a string
      good.replace('[1,', '[1 ,'),
      good.replace(/]$/, ',]'),
      `${good.slice(0, -1)},{"clock":7}]`,
    ];
    for (const record of bad) {
      const got: HistoryRow[] = [];
      const row = decodeChunkRecord(record);
      expect(decodeHistoryChunk(`${record}\n`, got)).toEqual({ corrupt: row ? 0 : 1 });
      expect(got).toEqual(row ? [row] : []);
    }
  });

  it('reads a value seen before only where the record holds it whole (a longer id, a damaged close)', () => {
    const [a, b, c] = weekOf(3);
    const rows = [
      { ...a!, stage: 'sk_intake' },
      // The seen value is a prefix of this one, and of the next one's text up to a stray quote.
      { ...b!, stage: 'sk_intake_review', toStage: 'sk_intake' },
      { ...c!, stage: 'sk_intake' },
    ];
    const records = rows.map(encodeChunkRecord);
    records[2] = records[2]!.replace('"sk_intake",', '"sk_intake"x,');
    const chunk = records.join('');
    const got: HistoryRow[] = [];
    expect(decodeHistoryChunk(chunk, got)).toEqual({ corrupt: 1 });
    expect(got).toEqual(rows.slice(0, 2).map((r) => decodeChunkRecord(encodeChunkRecord(r))));
    expect(got.map((r) => [r.stage, r.toStage])).toEqual([
      ['sk_intake', null],
      ['sk_intake_review', 'sk_intake'],
    ]);
  });

  it('loses only the damaged records of a damaged chunk, and counts them', () => {
    const rows = weekOf(3);
    const records = rows.map(encodeChunkRecord);
    const damaged = [records[0], '[1,"cut short\n', records[1], '[1,"x"]\n', records[2]].join('');
    const into: HistoryRow[] = [];
    expect(decodeHistoryChunk(damaged, into)).toEqual({ corrupt: 2 });
    expect(into).toEqual(rows);
    // A chunk cut mid-record (a damaged append) keeps the whole records before the cut.
    const cut: HistoryRow[] = [];
    expect(decodeHistoryChunk(records.join('').slice(0, -5), cut)).toEqual({ corrupt: 1 });
    expect(cut).toEqual(rows.slice(0, 2));
    expect(decodeHistoryChunk('', [])).toEqual({ corrupt: 0 });
  });
});

/** Rows whose text fields hold anything JSON escapes (quotes, backslashes, commas, newlines), and odd numbers. */
const anyTextRowArb: fc.Arbitrary<HistoryRow> = fc
  .tuple(rowArb, fc.string(), fc.string(), fc.string(), fc.option(fc.string(), { nil: null }), fc.boolean())
  .map(([row, dealId, pipeline, stage, ownerId, odd]) => ({
    ...row,
    dealId,
    pipeline,
    stage,
    ownerId,
    ...(odd ? { enteredAt: -row.enteredAt - 0.5, exitedAt: row.exitedAt + 0.25 } : {}),
  }));

function typicalInputs(): NonNullable<HistoryRow['inputs']> {
  return {
    entry: { props: {}, held: {} },
    exit: { props: {}, held: {} },
    pauses: [],
    pauseKey: '[]',
    evidence: {
      ownerChanges: 0,
      ownerChangesAt: [],
      noOwner: false,
      unansweredAttempts: 0,
      ownerOpenTasks: 0,
    },
  };
}

function weekOf(n: number): HistoryRow[] {
  return Array.from({ length: n }, (_, i) => ({
    dealId: String(100 + i),
    pipeline: 'p',
    stage: 's',
    ownerRole: 'r',
    ownerId: null,
    enteredAt: 1000 * i,
    exitedAt: 1000 * i + 500,
    businessMs: 500,
    toStage: null,
    direction: 'forward' as const,
    slaOutcome: 'met' as const,
    breachReason: null,
    breachedAt: null,
    breachReasonSource: null,
  }));
}
