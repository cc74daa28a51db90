import { rowsOf, type ExitRange, type HistoryRow } from '@stagekeeper/shared';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ms, rowArb } from '../testing/history-row-arb';
import { encodeChunkColumns, readChunkColumns } from './history-columns';
import { decodeHistoryChunkBytes, encodeChunkRecord } from './history-row-codec';

/** The columns' rows as objects pushed onto `into`, as a reader that needs them whole gets them; the text, or null. */
function decodeChunkColumns(columns: Buffer, into: HistoryRow[], exits?: ExitRange) {
  const read = readChunkColumns(columns, exits);
  if (read) into.push(...rowsOf(read.rows));
  return read?.text ?? null;
}

/** What columns say of the text they stand for: its length and SHA-1. */
const textOf = (text: Buffer) => ({ length: text.length, id: createHash('sha1').update(text).digest('hex') });

/** A chunk's text holding `rows`, and its rows as the scorecard reads the text (without inputs). */
function chunkOf(rows: HistoryRow[]): { text: Buffer; read: HistoryRow[] } {
  const text = Buffer.from(rows.map(encodeChunkRecord).join(''), 'utf8');
  const read: HistoryRow[] = [];
  expect(decodeHistoryChunkBytes(text, read, undefined, false).corrupt).toBe(0);
  return { text, read };
}

const plain = (dealId: string, exitedAt: number): HistoryRow => ({
  dealId,
  pipeline: 'p1',
  stage: 's1',
  ownerRole: 'intake',
  ownerId: '7',
  enteredAt: exitedAt - 3_600_000,
  exitedAt,
  businessMs: 3_600_000,
  toStage: 's2',
  direction: 'forward',
  slaOutcome: 'met',
  breachReason: null,
});

describe('history chunk columns', () => {
  it('decode to the rows the chunk text decodes to without inputs, field for field, in order', () => {
    fc.assert(
      fc.property(fc.array(rowArb, { maxLength: 30 }), (rows) => {
        const { text, read } = chunkOf(rows);
        const back: HistoryRow[] = [];
        expect(decodeChunkColumns(encodeChunkColumns(read, textOf(text)), back)).toEqual(textOf(text));
        expect(back).toEqual(read);
        back.forEach((r, i) => expect(Object.keys(r).sort()).toEqual(Object.keys(read[i]!).sort()));
      }),
    );
  });

  it('keep only the rows exiting in a range, as the filtered text read does', () => {
    fc.assert(
      fc.property(fc.array(rowArb, { maxLength: 30 }), ms, ms, (rows, a, b) => {
        const exits = { from: Math.min(a, b), to: Math.max(a, b) };
        const { text, read } = chunkOf(rows);
        const filtered: HistoryRow[] = [];
        decodeHistoryChunkBytes(text, filtered, exits, false);
        const back: HistoryRow[] = [];
        decodeChunkColumns(encodeChunkColumns(read, textOf(text)), back, exits);
        expect(back).toEqual(filtered);
      }),
    );
  });

  it('store a class once for the rows that share it: a plain row costs its numbers and its deal id', () => {
    const rows = Array.from({ length: 1000 }, (_, i) =>
      plain(String(10_000_000_000 + i), 1_800_000_000_000 + i),
    );
    const { text, read } = chunkOf(rows);
    const columns = encodeChunkColumns(read, textOf(text));
    // 4 doubles, 2 integers and an 11-digit id a row, one class, the header's few bytes.
    expect(columns.length).toBeLessThan(1000 * (40 + 14) + 300);
    expect(columns.length).toBeLessThan(text.length / 2);
  });

  it('rows never share an object: a reader that changes one row changes no other', () => {
    const rows = [0, 1].map((i) => ({ ...plain(String(i), 1_800_000_000_000), dims: { source: 'web' } }));
    const { text, read } = chunkOf(rows);
    const back: HistoryRow[] = [];
    decodeChunkColumns(encodeChunkColumns(read, textOf(text)), back);
    back[0]!.dims!['source'] = 'fax';
    expect(back[1]!.dims).toEqual({ source: 'web' });
  });

  it('a damaged value decodes as null and adds no row (the reader falls back to the text)', () => {
    const rows = Array.from({ length: 20 }, (_, i) => ({
      ...plain(String(i), 1_800_000_000_000 + i),
      ...(i % 3 === 0
        ? { slaOutcome: 'breached' as const, breachReason: 'capacity' as const, breachedAt: i }
        : {}),
    }));
    const { text, read } = chunkOf(rows);
    const good = encodeChunkColumns(read, textOf(text));
    const damaged = (f: (b: Buffer) => void) => {
      const b = Buffer.from(good);
      f(b);
      return b;
    };
    const headerEnd = 8 + good.readUInt32LE(4);
    const valuesAt = good.length - 40 - 20 * 40;
    const classesAt = valuesAt + 20 * 32;
    const idLengthsAt = classesAt + 20 * 4;
    const cases: Buffer[] = [
      Buffer.alloc(0),
      good.subarray(0, good.length - 1),
      Buffer.concat([good, Buffer.alloc(8)]),
      damaged((b) => b.write('XKC1', 0, 'latin1')),
      damaged((b) => b.writeUInt32LE(good.length, 4)),
      damaged((b) => b.write('x', headerEnd - 1, 'latin1')),
      // A class index naming no class, deal id lengths that do not add up, a time that is no number.
      damaged((b) => b.writeUInt32LE(5, classesAt)),
      damaged((b) => b.writeUInt32LE(3, idLengthsAt + 4)),
      damaged((b) => b.writeDoubleLE(NaN, valuesAt + 32 + 8)),
      // The end of another value (the columns of the chunk once a row was superseded, read in pieces).
      damaged((b) => b.write('0'.repeat(40), b.length - 40, 'latin1')),
      // A class that is no valid row (an outcome the schema refuses).
      damaged((b) => {
        // The class records are strings inside the header's JSON: their quotes are escaped.
        const at = b.indexOf('\\"met\\"', 8, 'latin1');
        expect(at).toBeGreaterThan(8);
        b.write('\\"mat\\"', at, 'latin1');
      }),
    ];
    for (const value of cases) {
      const into: HistoryRow[] = [];
      expect(decodeChunkColumns(value, into), String(cases.indexOf(value))).toBeNull();
      expect(into).toEqual([]);
    }
    const into: HistoryRow[] = [];
    expect(decodeChunkColumns(good, into)).not.toBeNull();
    expect(into).toEqual(read);
  });

  it('decode views of a larger buffer at any alignment (replies come as slices of a socket read)', () => {
    const { text, read } = chunkOf([plain('1', 1_800_000_000_000), plain('2', 1_800_000_000_001)]);
    const columns = encodeChunkColumns(read, textOf(text));
    for (let shift = 0; shift < 8; shift++) {
      const big = Buffer.alloc(columns.length + 16);
      columns.copy(big, shift);
      const back: HistoryRow[] = [];
      decodeChunkColumns(big.subarray(shift, shift + columns.length), back);
      expect(back).toEqual(read);
    }
  });
});
