import { rowsOf, visitKey, type ExitRange, type HistoryRow, type RowBatch } from '@stagekeeper/shared';
import { createHash } from 'node:crypto';
import { setImmediate } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { Logger } from '../log';
import { corruptRecords } from '../metrics';
import {
  decodeChunkRecord,
  decodeHistoryChunkBytes,
  decodeHistoryRow,
  encodeChunkRecord,
  NEWLINE,
} from './history-row-codec';
import { hashValues, scanHash } from './hash-scan';
import { encodeChunkColumns, readChunkColumns } from './history-columns';
import { assertKeyPart, type Keys } from './keys';
import { luaScript } from './lua';

const DAY_MS = 24 * 3600_000;
const WEEK_MS = 7 * DAY_MS;
/** The scorecard looks back a year at most; older weeks expire on their own. */
export const HISTORY_TTL_MS = 400 * DAY_MS;
/** Weeks a row can still be stored in: HISTORY_TTL_MS counted from the end of its exit week, plus this week. */
export const HISTORY_WEEKS_KEPT = Math.ceil(400 / 7) + 1;
/**
 * Up to this many unindexed rows, the deal read that finds them indexes them before answering (well under a
 * second); beyond, indexing runs in the background so no card read waits for it.
 */
const INDEX_NOW_LIMIT = 50_000;
/**
 * A week's packed rows go to a new chunk once the current one holds this many bytes (~3,000 rows). Appending
 * to a string reallocates it as it grows: kept to half a megabyte, that takes well under a millisecond, so it
 * holds no other client up.
 */
export const CHUNK_BYTES = 512 * 1024;
/** Rows per run of the append script: ~5 Redis calls a row, so one run stays around a millisecond. */
const ROWS_PER_SCRIPT = 100;
/**
 * A week read asks for a chunk this much at a time (GETRANGE). A reply that fits in one of the socket's 64 KB reads
 * comes as a view of it; a whole 512 KB chunk was copied into the client parser's pool, freshly allocated as it
 * grew: on these machines that copy was a sixth of a million-row scorecard.
 */
export const READ_PIECE_BYTES = 32 * 1024;
/**
 * Pieces asked for in one pipeline during a week read, and such batches in flight: Redis sends the next while this
 * process decodes one.
 */
const PIECES_PER_BATCH = 8;
const BATCHES_IN_FLIGHT = 2;
const NO_BYTES: Buffer = Buffer.alloc(0);
/**
 * A byte range [at, end) of a chunk, read as one GETRANGE; with `columns`, of a chunk's columns `total` bytes long,
 * standing for its text (key `text`) `length` bytes long.
 */
type Piece = {
  key: string;
  at: number;
  end: number;
  columns?: { text: string; length: number; total: number; n: number };
};
/** Chunk `n`, read to byte `at`. */
type Tail = { n: number; at: number };

/** A week log's head chunk and rewrite count, from HMGET head rewrites (nothing read: 0 and 0). */
function logStateOf(reply: unknown): { head: number; rewrites: number } {
  const [head, rewrites] = Array.isArray(reply) ? (reply as (string | null)[]) : [];
  return { head: Number(head ?? 0) || 0, rewrites: Number(rewrites ?? 0) || 0 };
}
/** Where a packed row is: `${week}:${chunk}:${offset}:${length}` (a bare week: a row of the older week hash). */
const PLACE = /^(\d{4}-\d{2}-\d{2}):(\d+):(\d+):(\d+)$/;

/** A chunk's exit span in the week's log, as `exits:{n}=least:greatest:length` (see APPEND_SCRIPT). */
const EXIT_SPAN = /^exits:(\d+)=(-?\d+):(-?\d+):(\d+)$/;

/**
 * Below this, a chunk's greedy growth (see APPEND_SCRIPT) wastes under this much: not worth a MEMORY USAGE per row.
 */
const REWRITE_FROM_BYTES = 4096;

/**
 * Appends rows to their weeks' chunks and points the deals' indexes at them, atomically per row. A visit already
 * stored (a replayed or corrected decision) is superseded where it lies: its packed record is overwritten in
 * place by a tombstone of the same length, or its field is deleted from the older week hash, so a week read never
 * counts it twice; `rewrites` counts it so a read that overlapped the rewrite knows to dedupe. Chunk and older
 * week-hash names are derived from the given keys by swapping the trailing week (10 characters), as keys.ts
 * spells them.
 * Per chunk, the log also keeps `exits:{n}` = "least exit:greatest exit:chunk length", widened by each append to
 * that chunk, so a read of the rows exiting in a range skips the chunks that hold none (visits exit in roughly the
 * order they are appended: the current week, busy with other days, is mostly skipped by last week's scorecard).
 * The length says which appends the span accounts for: a chunk grown by anything else (a process of an older
 * release appends without it) no longer matches, is read whole, and its span is never widened again.
 * A superseded row's chunk loses its columns (BUILD_COLUMNS_SCRIPT), which still count the row.
 * KEYS per row: week log hash, deal index, older week hash. ARGV: TTL ms, chunk bytes, then per row: visit key,
 * week, record, exit (epoch ms). Returns the chunks the run filled, as "week:n".
 */
const APPEND_SCRIPT = `
local ttl, limit = ARGV[1], tonumber(ARGV[2])
-- Per key touched: the log's head chunk number, and the keys whose TTL to push back once at the end; per chunk
-- appended to, its exit span so far ({log, field, least, greatest, length}; false: the chunk has none).
local heads, touched, spans = {}, {}, {}
-- Chunks filled by this run, as week:n, for the caller to build their columns.
local sealed = {}
for i = 0, #KEYS / 3 - 1 do
  local log, index, legacy = KEYS[3 * i + 1], KEYS[3 * i + 2], KEYS[3 * i + 3]
  local field, week, record = ARGV[4 * i + 3], ARGV[4 * i + 4], ARGV[4 * i + 5]
  local exit = tonumber(ARGV[4 * i + 6])
  local old = redis.call('HGET', index, field)
  local superseded = false
  if old then
    local w, n, off, len = string.match(old, '^(%d%d%d%d%-%d%d%-%d%d):(%d+):(%d+):(%d+)$')
    if w then
      local chunk = string.sub(log, 1, -11) .. w .. ':' .. n
      off, len = tonumber(off), tonumber(len)
      -- A chunk expired or shorter than the place names is left alone: SETRANGE past its end would pad it.
      if redis.call('STRLEN', chunk) >= off + len then
        redis.call('SETRANGE', chunk, off, '0' .. string.rep(' ', len - 1))
        -- The chunk's columns still hold the row: gone, the scorecard reads the chunk's text until they are rebuilt.
        redis.call('DEL', chunk .. ':cols')
        superseded = true
      end
    elseif string.match(old, '^%d%d%d%d%-%d%d%-%d%d$') then
      superseded = redis.call('HDEL', string.sub(legacy, 1, -11) .. old, field) == 1
    end
  else
    -- Not indexed yet: an older-layout row of this visit may still sit in the week hash.
    superseded = redis.call('HDEL', legacy, field) == 1
  end
  local head = heads[log]
  if not head then head = tonumber(redis.call('HGET', log, 'head') or '0') end
  local chunk = log .. ':' .. head
  local size = redis.call('APPEND', chunk, record)
  -- APPEND grows a string greedily (to twice its new length, below a megabyte), so a chunk held up to twice its
  -- bytes, for a year. Right after such a growth, copy the chunk at its length: Redis then allocates the nearest
  -- size class (at most a quarter more), and later appends fill that before the next growth. One copy per size
  -- class crossed, so a full chunk is copied a few times in all; small chunks are left alone. COPY, not SET of a
  -- GET: SET trims the spare room of the size class, so the next append grew the chunk greedily again and it was
  -- copied three times on a third of all appends (2.4 s of Redis per 12,000 transitions, up to 21 ms at a time
  -- during a bulk move). COPY keeps the TTL, and RENAME moves it with the copy.
  if size >= ${REWRITE_FROM_BYTES} then
    local used = redis.call('MEMORY', 'USAGE', chunk)
    if used and used > size * 1.5 + 1024 then
      redis.call('COPY', chunk, chunk .. ':copy', 'REPLACE')
      redis.call('RENAME', chunk .. ':copy', chunk)
    end
  end
  touched[chunk] = true
  local span = spans[chunk]
  if span == nil then
    span = false
    local spanField = 'exits:' .. head
    if size == #record then
      -- A new chunk: its span starts here (a stale one of a lost chunk of the same number is replaced).
      span = {log, spanField, exit, exit, 0}
    else
      local lo, hi, len = string.match(redis.call('HGET', log, spanField) or '', '^(%-?%d+):(%-?%d+):(%d+)$')
      if lo and tonumber(len) == size - #record then span = {log, spanField, tonumber(lo), tonumber(hi), 0} end
    end
  end
  -- An exit that is no number leaves the span unwritten: its length then no longer matches, so the chunk is read.
  if span and not exit then span = false end
  if span then
    if exit < span[3] then span[3] = exit end
    if exit > span[4] then span[4] = exit end
    span[5] = size
  end
  spans[chunk] = span
  redis.call('HSET', index, field, week .. ':' .. head .. ':' .. (size - #record) .. ':' .. (#record - 1))
  touched[index] = true
  if size >= limit then
    sealed[#sealed + 1] = week .. ':' .. head
    head = head + 1
    redis.call('HSET', log, 'head', head)
  end
  heads[log] = head
  if superseded then redis.call('HINCRBY', log, 'rewrites', 1) end
  -- The log must outlive the chunks it counts: pushed back whenever it exists.
  if head > 0 or superseded then touched[log] = true end
end
for _, span in pairs(spans) do
  if span then
    redis.call('HSET', span[1], span[2], string.format('%d:%d:%d', math.floor(span[3]), math.ceil(span[4]), span[5]))
    touched[span[1]] = true
  end
end
for key in pairs(touched) do redis.call('PEXPIRE', key, ttl) end
return sealed
`;
const APPEND_SHA = createHash('sha1').update(APPEND_SCRIPT).digest('hex');

/**
 * Stores a chunk's columns (history-columns.ts) if the chunk still holds the text they were made from: a row
 * superseded since the text was read would otherwise be counted from columns that still hold it. The SHA-1 of a
 * 512 KB chunk costs Redis about a millisecond, once per chunk filled. The columns expire with their chunk.
 * KEYS: chunk, columns. ARGV: SHA-1 (hex) of the chunk text read, the columns. Returns 1 if stored.
 */
const BUILD_COLUMNS_SCRIPT = luaScript(`
local text = redis.call('GET', KEYS[1])
if not text or redis.sha1hex(text) ~= ARGV[1] then return 0 end
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then redis.call('SET', KEYS[2], ARGV[2], 'PX', ttl) else redis.call('SET', KEYS[2], ARGV[2]) end
return 1
`);

/** Monday 00:00 UTC of the week containing `ms`, as YYYY-MM-DD (the week bucket of a stage exit). */
export function weekStart(ms: number): string {
  const day = Math.floor(ms / DAY_MS);
  // 1970-01-01 was a Thursday: shift so Monday is 0.
  const monday = day - ((day + 3) % 7);
  return new Date(monday * DAY_MS).toISOString().slice(0, 10);
}

/** The week buckets a row may still be stored in at `now`, newest first. */
export function keptWeeks(now: number): string[] {
  return Array.from({ length: HISTORY_WEEKS_KEPT }, (_, i) => weekStart(now - i * WEEK_MS));
}

/** One row per stage visit: a retried job rewrites the same field instead of appending a duplicate. */
const rowKey = visitKey;

/**
 * Finished stage visits per portal, stored as:
 * - by exit week (UTC), packed: rows appended one after another to a few string chunks per week (~512 KB each),
 *   which the scorecard reads in 32 KB pieces and decodes straight from their text (1M rows read through HSCAN
 *   took ~10 s; Redis alone spent ~1.8 us a row walking the hash);
 * - by deal, a hash visitKey -> where its packed row is (week, chunk, offset, length), for the card, which reads
 *   one deal's rows by GETRANGE without touching the rest of the week.
 * The worker may replay a decision after a crash or a state conflict, and a rep may correct a visit: the append
 * script finds the visit in the deal's index and overwrites its earlier row with a tombstone, so each visit is
 * stored once. Rows of the older layout (one hash per week, visitKey -> row, indexed by deal as visitKey -> week)
 * are still read, and superseded there the same way; rows written before the deal index existed are indexed once
 * per portal (indexLegacy); until then a deal's read falls back to scanning the older week hashes.
 */
export class HistoryStore {
  /** Legacy indexing under way in this process, per portal (one at a time; repeating it is harmless). */
  private readonly indexing = new Map<string, Promise<void>>();
  /** Column builds started by reads, per portal and week (buildLater). */
  private readonly building = new Map<string, Promise<void>>();

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly log: Logger,
    /** Tests lower it to see the background path without writing 50,000 rows. */
    private readonly indexNowLimit = INDEX_NOW_LIMIT,
    /** Tests lower it to see a week span many chunks without writing megabytes. */
    private readonly chunkBytes = CHUNK_BYTES,
    /** Tests lower it to see records cut between pieces. */
    private readonly readPieceBytes = READ_PIECE_BYTES,
  ) {}

  /**
   * Stores the rows (one EVALSHA per 100 rows, all in one round trip; a transition's rows take one). Safe to
   * repeat: a visit written again replaces its earlier row.
   */
  async append(portalId: string, rows: HistoryRow[]): Promise<void> {
    if (rows.length === 0) return;
    const runs: [string[], (string | number)[]][] = [];
    for (let i = 0; i < rows.length; i += ROWS_PER_SCRIPT) {
      const keys: string[] = [];
      const args: (string | number)[] = [HISTORY_TTL_MS, this.chunkBytes];
      for (const row of rows.slice(i, i + ROWS_PER_SCRIPT)) {
        const week = weekStart(row.exitedAt);
        keys.push(
          this.keys.historyLog(portalId, week),
          this.keys.historyByDeal(portalId, row.dealId),
          this.keys.history(portalId, week),
        );
        args.push(rowKey(row), week, encodeChunkRecord(row), row.exitedAt);
      }
      runs.push([keys, args]);
    }
    let replies = await this.runAppends(runs);
    // Redis lost its script cache (a restart): load it and run again. Rows that went through are simply
    // rewritten (the script supersedes them).
    if (replies.some(([err]) => err?.message.includes('NOSCRIPT'))) {
      await this.redis.script('LOAD', APPEND_SCRIPT);
      replies = await this.runAppends(runs);
    }
    const failed = replies.find(([err]) => err);
    if (failed) throw failed[0];
    // The chunks this append filled get their columns, the scorecard's fast read (one chunk in ~3,600 rows).
    for (const [, filled] of replies)
      for (const place of Array.isArray(filled) ? (filled as unknown[]) : []) {
        const [week, n] = String(place).split(':');
        await this.buildColumns(portalId, week!, Number(n));
      }
  }

  /**
   * Stores the columns of a week's chunk `n` made from its text (a filled chunk: its rows are never appended to
   * again, only superseded, which deletes the columns). Not when the text holds a damaged record (the text read
   * reports it), and not when the chunk changed meanwhile (BUILD_COLUMNS_SCRIPT). A failure costs nothing but
   * speed: the scorecard reads the chunk's text. True if stored.
   */
  async buildColumns(portalId: string, week: string, n: number): Promise<boolean> {
    const key = this.keys.historyChunk(portalId, week, n);
    try {
      const text = await this.redis.getBuffer(key);
      if (!text || text.length === 0) return false;
      const rows: HistoryRow[] = [];
      if (decodeHistoryChunkBytes(text, rows, undefined, false).corrupt > 0) return false;
      const sha = createHash('sha1').update(text).digest('hex');
      const columns = encodeChunkColumns(rows, { length: text.length, id: sha });
      const keys = [key, this.keys.historyColumns(portalId, week, n)];
      return (await BUILD_COLUMNS_SCRIPT(this.redis, keys, [sha, columns])) === 1;
    } catch (err) {
      this.log.warn(
        { portalId, week, chunk: n, err: (err as Error).message },
        'history chunk columns not built',
      );
      return false;
    }
  }

  /**
   * Builds, one after another in the background, the columns of filled chunks a read found without any (filled
   * before columns were kept, or superseded into since): the next scorecard of the week reads them fast.
   */
  private buildLater(portalId: string, week: string, chunks: number[]): void {
    const key = `${portalId}:${week}`;
    if (chunks.length === 0 || this.building.has(key)) return;
    const run = (async () => {
      for (const n of chunks) await this.buildColumns(portalId, week, n);
    })().finally(() => this.building.delete(key));
    this.building.set(key, run);
  }

  /**
   * Settles the column builds reads started, for tests (a read returns before its builds end). Shutdown does not
   * wait for them: a build cut short stores nothing, and the next read starts it again.
   */
  async columnsBuilt(): Promise<void> {
    await Promise.all(this.building.values());
  }

  private async runAppends(runs: [string[], (string | number)[]][]): Promise<[Error | null, unknown][]> {
    const pipeline = this.redis.pipeline();
    for (const [keys, args] of runs) pipeline.evalsha(APPEND_SHA, keys.length, ...keys, ...args);
    return (await pipeline.exec()) ?? [];
  }

  /** Rows whose stage exit falls in the UTC week starting on `week` (any date in the week works), oldest exit first. */
  async readWeek(portalId: string, week: string | number): Promise<HistoryRow[]> {
    return (await this.scanWeek(portalId, week)).sort((a, b) => a.exitedAt - b.exitedAt);
  }

  /**
   * The same rows in no particular order, for readers that aggregate (the scorecard: sorting a million rows costs
   * about as much as reading them): the week's chunks, pieces in flight, plus the rows of the older week hash
   * if it still exists (read in HSCAN pages, never one HVALS: a week of 200,000 rows in one reply held Redis, and
   * every other client, for 222 ms). With `exits`, only rows whose exitedAt falls in [from, to) are kept. With
   * `inputs` false, packed rows come without their visit inputs (decodeHistoryChunk), for readers that never
   * replay visits.
   */
  async scanWeek(
    portalId: string,
    week: string | number,
    exits?: ExitRange,
    { inputs = true }: { inputs?: boolean } = {},
  ): Promise<HistoryRow[]> {
    let rows: HistoryRow[] = [];
    const exact = await this.readWeekBatches(portalId, week, exits, inputs, (batch) => {
      for (const row of rowsOf(batch)) rows.push(row);
    });
    if (!exact) {
      // Filtered, the earlier copy may have been kept and the last one dropped (a correction that moved the exit):
      // read again whole (rare: only reads that overlapped a rewrite), dedupe, then filter.
      if (exits) {
        const whole = await this.scanWeek(portalId, week, undefined, { inputs });
        return whole.filter((r) => r.exitedAt >= exits.from && r.exitedAt < exits.to);
      }
      rows = [...new Map(rows.map((r) => [rowKey(r), r])).values()];
    }
    return rows;
  }

  /**
   * scanWeek's rows handed to `onRows` a batch at a time (a chunk's, or an HSCAN page's), in the same order, and
   * the event loop let through between chunks: a reader that folds them keeps no million row objects, and card
   * reads and webhooks get their turn during a big week's read. Without `inputs`, a chunk read from its columns
   * comes as columns (ClassedRows: no row objects; valid only during the call). False when the read overlapped a
   * rewrite, so a visit may have been handed over twice: the caller starts again from scanWeek, which dedupes.
   */
  async streamWeek(
    portalId: string,
    week: string | number,
    exits: ExitRange | undefined,
    onRows: (rows: RowBatch) => void,
    { inputs = true }: { inputs?: boolean } = {},
  ): Promise<boolean> {
    return this.readWeekBatches(portalId, week, exits, inputs, onRows, true);
  }

  /**
   * The week read behind scanWeek and streamWeek; false when a visit rewritten meanwhile may have been seen in
   * both places (chunks are read in the order written, after the older hash, so its last copy is the one to keep).
   */
  private async readWeekBatches(
    portalId: string,
    week: string | number,
    exits: ExitRange | undefined,
    inputs: boolean,
    onRows: (rows: RowBatch) => void,
    yieldBetween = false,
  ): Promise<boolean> {
    const start = typeof week === 'number' ? weekStart(week) : weekStart(Date.parse(`${week}T00:00:00Z`));
    const logKey = this.keys.historyLog(portalId, start);
    const legacyKey = this.keys.history(portalId, start);
    const before = await this.logState(logKey);
    let corrupt = 0;
    let exact = true;
    if ((await this.redis.exists(legacyKey)) === 1) {
      ({ exact } = await hashValues(this.redis, legacyKey, (values) => {
        const rows: HistoryRow[] = [];
        for (const value of values) {
          const row = decodeHistoryRow(value);
          if (!row) corrupt++;
          else if (!exits || (row.exitedAt >= exits.from && row.exitedAt < exits.to)) rows.push(row);
        }
        onRows(rows);
      }));
    }
    // Chunks 0..head, then whatever was appended meanwhile: to the head chunk (read to the length it had) or to a
    // chunk started since. A visit corrected during the read is then never lost: its tombstone and its new copy
    // are written together, and a piece that saw the tombstone was read before the check that finds the copy.
    let next = 0;
    let state = before;
    let grown: Tail | undefined;
    const unbuilt: number[] = [];
    for (;;) {
      const outside = exits ? await this.spansOutside(portalId, start, next, state.head, exits) : undefined;
      const pass = await this.readChunks(portalId, start, next, state.head, onRows, {
        exits,
        outside,
        inputs,
        yieldBetween,
        grown,
      });
      corrupt += pass.corrupt;
      unbuilt.push(...pass.unbuilt);
      next = state.head + 1;
      const check = this.redis.pipeline().hmget(logKey, 'head', 'rewrites');
      if (pass.head) check.strlen(this.keys.historyChunk(portalId, start, pass.head.n));
      const checked = await check.exec().catch(() => null);
      // Not known whether the week grew or was rewritten meanwhile (read as head 0, the next pass started again
      // from chunk 1 and counted rows twice): the caller reads again and dedupes, as after a rewrite.
      if (!checked) {
        exact = false;
        break;
      }
      const [[, log] = [], [, length] = []] = checked;
      const after = logStateOf(log);
      grown = pass.head && Number(length) > pass.head.at ? pass.head : undefined;
      const moved = after.head !== state.head;
      state = after;
      if (!moved && !grown) break;
    }
    if (corrupt > 0) {
      corruptRecords.inc({ kind: 'history_row' }, corrupt);
      this.log.warn({ portalId, week: start, corrupt }, 'skipped corrupt stage history rows');
    }
    this.buildLater(portalId, start, unbuilt);
    return exact && state.rewrites === before.rewrites;
  }

  /**
   * Decodes chunks `from`..`to` of a week, in order, handing each piece's rows to `onRows`; the number of corrupt
   * records. A chunk is read READ_PIECE_BYTES at a time (GETRANGE up to the length it had when the read began: rows
   * appended later are left to the next read, as a GET would have), a record cut by a piece's end carried into the
   * next. `yieldBetween`: a piece whose reply already came back would otherwise be decoded in the same turn as the
   * last, so a big week held the event loop for its whole read. Without `inputs` (the scorecard), a chunk whose
   * columns stand for its whole text is read from them instead (history-columns.ts: a sixth of the decoding, under
   * half the bytes); `unbuilt`, the filled chunks that had none.
   */
  private async readChunks(
    portalId: string,
    week: string,
    from: number,
    to: number,
    onRows: (rows: RowBatch) => void,
    {
      exits,
      outside = new Map(),
      inputs = true,
      yieldBetween = false,
      grown,
    }: {
      exits?: ExitRange | undefined;
      /** Chunks whose exit span lies outside `exits`, with the length the span accounts for (spansOutside). */
      outside?: ReadonlyMap<number, number> | undefined;
      inputs?: boolean;
      yieldBetween?: boolean;
      /** A chunk read before to `grown.at`, to read on from there. */
      grown?: Tail | undefined;
    },
  ): Promise<{ corrupt: number; head: Tail | undefined; unbuilt: number[] }> {
    let corrupt = 0;
    const chunks: Tail[] = grown ? [grown] : [];
    for (let n = from; n <= to; n++) chunks.push({ n, at: 0 });
    // Every chunk's length in one round trip: it says which chunks their span lets the read skip (the span still
    // accounts for the whole chunk), and lets pieces be asked for ahead of their decoding. With them, the length
    // of each whole chunk's columns (0: none).
    const lengths = this.redis.pipeline();
    for (const { n, at } of chunks) {
      lengths.strlen(this.keys.historyChunk(portalId, week, n));
      if (!inputs && at === 0) lengths.strlen(this.keys.historyColumns(portalId, week, n));
    }
    const replies = chunks.length > 0 ? ((await lengths.exec()) ?? []) : [];
    const pieces: Piece[] = [];
    const unbuilt: number[] = [];
    // The last chunk and the length it is read to (or, skipped, has), for the caller to see whether it grew.
    let head: Tail | undefined;
    let r = 0;
    for (const { n, at: from } of chunks) {
      const [err, reply] = replies[r++] ?? [];
      const [columnsErr, columnsReply] = !inputs && from === 0 ? (replies[r++] ?? []) : [null, 0];
      // A key of another type (corruption) reads as no rows, as bad rows are.
      if (err) {
        corrupt++;
        continue;
      }
      const length = Number(reply);
      if (!head || n >= head.n) head = { n, at: length };
      if (outside.get(n) === length) continue;
      const key = this.keys.historyChunk(portalId, week, n);
      const columnsLength = columnsErr ? 0 : Number(columnsReply);
      if (columnsLength > 0) {
        const columnsKey = this.keys.historyColumns(portalId, week, n);
        const columns = { text: key, length, total: columnsLength, n };
        for (let at = 0; at < columnsLength; at += this.readPieceBytes)
          pieces.push({
            key: columnsKey,
            at,
            end: Math.min(columnsLength, at + this.readPieceBytes),
            columns,
          });
        continue;
      }
      if (!inputs && from === 0 && n < to && length > 0) unbuilt.push(n);
      for (let at = from; at < length; at += this.readPieceBytes)
        pieces.push({ key, at, end: Math.min(length, at + this.readPieceBytes) });
    }
    // Asked for a batch at a time, as one pipeline: one write to the socket for a batch instead of one a piece
    // (each write a system call, which on these machines cost more than the piece's decoding).
    const batches: Promise<[Error | null, unknown][]>[] = [];
    let asked = 0;
    const ask = () => {
      const batch = this.redis.pipeline();
      for (const { key, at, end } of pieces.slice(asked, asked + PIECES_PER_BATCH))
        batch.getrangeBuffer(key, at, end - 1);
      asked += PIECES_PER_BATCH;
      // Awaited in order below; an error on a later one must not surface as unhandled meanwhile.
      const read = batch.exec().then((r) => r ?? []);
      read.catch(() => undefined);
      batches.push(read);
    };
    while (asked < pieces.length && batches.length < BATCHES_IN_FLIGHT) ask();
    let batch: [Error | null, unknown][] = [];
    // The bytes of the record the last piece ended inside, from `carryAt` in the same chunk.
    let carry: Buffer = NO_BYTES;
    let carryAt = 0;
    let broken: string | undefined;
    // A chunk's columns, put together from their pieces (copied, not concatenated: one buffer for the whole read,
    // where a fresh one per chunk cost page faults and garbage collection), and whether every piece came.
    let scratch: Buffer = NO_BYTES;
    let columnsCame = false;
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i]!;
      const last = pieces[i + 1]?.key !== piece.key;
      if (i % PIECES_PER_BATCH === 0) {
        batch = await batches.shift()!.catch((err: Error): [Error | null, unknown][] => [[err, null]]);
        if (asked < pieces.length) ask();
      }
      const [err, reply] = batch[i % PIECES_PER_BATCH] ?? [new Error('no reply'), null];
      if (piece.columns) {
        const { text: textKey, length, total, n } = piece.columns;
        if (piece.at === 0) {
          if (scratch.length < total) scratch = Buffer.allocUnsafe(Math.max(total, 2 * scratch.length));
          columnsCame = true;
        }
        if (err || !Buffer.isBuffer(reply) || reply.length !== piece.end - piece.at) columnsCame = false;
        else reply.copy(scratch, piece.at);
        if (!last) continue;
        // The pieces of one value hold its text id at both ends (readChunkColumns checks them).
        const read = columnsCame ? readChunkColumns(scratch.subarray(0, total), exits) : null;
        if (read && read.text.length === length) onRows(read.rows);
        else if (length > 0) {
          // Deleted (a row superseded) or rebuilt since the lengths were read, or damaged (or of another layout):
          // the text, in one read, and columns made again for the next read.
          if (n < to) unbuilt.push(n);
          const rows: HistoryRow[] = [];
          const text = await this.redis.getrangeBuffer(textKey, 0, length - 1).catch(() => null);
          if (text) corrupt += decodeHistoryChunkBytes(text, rows, exits, inputs).corrupt;
          else corrupt++;
          onRows(rows);
        }
        if (yieldBetween) await setImmediate();
        continue;
      }
      let bytes: Buffer = NO_BYTES;
      if (err || !Buffer.isBuffer(reply)) {
        if (broken !== piece.key) corrupt++;
        broken = piece.key;
      } else bytes = reply;
      if (broken === piece.key) {
        carry = NO_BYTES;
        continue;
      }
      const rows: HistoryRow[] = [];
      let body = bytes;
      if (carry.length > 0) {
        const newline = bytes.indexOf(NEWLINE);
        if (newline === -1 && !last && bytes.length === piece.end - piece.at) {
          carry = Buffer.concat([carry, bytes]);
          continue;
        }
        const cut = newline === -1 ? bytes.length : newline;
        let bad = decodeHistoryChunkBytes(
          Buffer.concat([carry, bytes.subarray(0, cut)]),
          rows,
          exits,
          inputs,
        ).corrupt;
        if (bad > 0) {
          // Read in two pieces, it may have been overwritten by its tombstone in between (half of each): one
          // GETRANGE reads it as it is now.
          const whole = await this.redis
            .getrangeBuffer(piece.key, carryAt, piece.at + cut - 1)
            .catch(() => NO_BYTES);
          bad = decodeHistoryChunkBytes(whole, rows, exits, inputs).corrupt;
        }
        corrupt += bad;
        body = bytes.subarray(cut + 1);
      }
      // A piece shorter than asked for: the chunk went away meanwhile (its week expired), so a cut record is no damage.
      const whole = last || bytes.length < piece.end - piece.at;
      const cut =
        whole && bytes.length === piece.end - piece.at ? body.length : body.lastIndexOf(NEWLINE) + 1;
      corrupt += decodeHistoryChunkBytes(body.subarray(0, cut), rows, exits, inputs).corrupt;
      carry = whole ? NO_BYTES : body.subarray(cut);
      carryAt = piece.end - carry.length;
      onRows(rows);
      if (yieldBetween) await setImmediate();
    }
    return { corrupt, head, unbuilt };
  }

  /**
   * Chunks `from`..`to` of a week whose span in the log (see APPEND_SCRIPT) lies outside `exits`, with the chunk
   * length the span accounts for: readChunks skips those still that long. Chunks without a span (written before
   * spans were kept, or grown by an older release) are not among them: they are read.
   */
  private async spansOutside(
    portalId: string,
    week: string,
    from: number,
    to: number,
    exits: ExitRange,
  ): Promise<Map<number, number>> {
    const fields = await this.redis.hgetall(this.keys.historyLog(portalId, week)).catch(() => ({}));
    const outside = new Map<number, number>();
    for (const [field, value] of Object.entries(fields)) {
      const at = EXIT_SPAN.exec(`${field}=${value}`);
      if (!at) continue;
      const [n, lo, hi, length] = [Number(at[1]), Number(at[2]), Number(at[3]), Number(at[4])];
      if (n >= from && n <= to && (hi < exits.from || lo >= exits.to)) outside.set(n, length);
    }
    return outside;
  }

  private async logState(logKey: string): Promise<{ head: number; rewrites: number }> {
    return logStateOf(await this.redis.hmget(logKey, 'head', 'rewrites').catch(() => null));
  }

  /**
   * One deal's visits still kept at `now`: its index, then its rows from the weeks the index names. Two round
   * trips and O(visits of the deal) work, whatever the size of the weeks. Until the portal's older rows are
   * indexed, the weeks are scanned for the deal's fields instead (and the indexing is started).
   */
  async dealRows(portalId: string, dealId: string, now: number): Promise<HistoryRow[]> {
    const indexKey = this.keys.historyByDeal(portalId, dealId);
    const [[, indexed], [indexErr, index]] = ((await this.redis
      .pipeline()
      .exists(this.keys.historyIndexed(portalId))
      .hgetall(indexKey)
      .exec()) ?? []) as [[Error | null, number], [Error | null, Record<string, string>]];
    if (indexed === 1) return indexErr ? [] : this.rowsOfIndex(portalId, dealId, now, index);
    // Small history: index it now and answer from the index; a large one is indexed in the background while
    // this read scans as reads did before the index.
    this.startIndexing(portalId, now);
    if ((await this.keptRowCount(portalId, now)) <= this.indexNowLimit) {
      await this.indexingSettled(portalId);
      if ((await this.redis.exists(this.keys.historyIndexed(portalId))) === 1)
        return this.rowsOfIndex(portalId, dealId, now, await this.redis.hgetall(indexKey));
    }
    // Packed rows are always indexed; only the older week hashes need the scan.
    const packed = Object.fromEntries(Object.entries(indexErr ? {} : index).filter(([, v]) => PLACE.test(v)));
    const [scanned, fromIndex] = await Promise.all([
      this.scanDealRows(portalId, dealId, now),
      this.rowsOfIndex(portalId, dealId, now, packed),
    ]);
    return [...new Map([...scanned, ...fromIndex].map((r) => [rowKey(r), r])).values()];
  }

  /**
   * The rows an index names, from the kept weeks only: one pipeline of a GETRANGE per packed row and an HMGET per
   * older week hash the deal has rows in.
   */
  private async rowsOfIndex(
    portalId: string,
    dealId: string,
    now: number,
    index: Record<string, string>,
  ): Promise<HistoryRow[]> {
    const kept = new Set(keptWeeks(now));
    const legacy = new Map<string, string[]>();
    const packed: string[] = [];
    const pipeline = this.redis.pipeline();
    for (const [field, place] of Object.entries(index)) {
      const at = PLACE.exec(place);
      if (at) {
        const [, week, chunk, offset, length] = at;
        if (!kept.has(week!)) continue;
        const from = Number(offset);
        pipeline.getrange(
          this.keys.historyChunk(portalId, week!, Number(chunk)),
          from,
          from + Number(length) - 1,
        );
        packed.push(field);
      } else if (kept.has(place)) legacy.set(place, [...(legacy.get(place) ?? []), field]);
    }
    for (const [week, fields] of legacy) pipeline.hmget(this.keys.history(portalId, week), ...fields);
    if (pipeline.length === 0) return [];
    const replies = (await pipeline.exec()) ?? [];
    const rows: HistoryRow[] = [];
    replies.forEach(([err, value], i) => {
      // A key of another type (corruption) reads as no rows, as the week readers treat bad rows.
      if (err) return;
      if (i < packed.length) {
        // The place must still hold this visit: a damaged index or a chunk rewritten under it reads as nothing.
        const row = decodeChunkRecord(value as string);
        if (row && row.dealId === dealId && rowKey(row) === packed[i]) rows.push(row);
        return;
      }
      for (const v of value as (string | null)[]) {
        const row = v === null ? null : decodeHistoryRow(v);
        if (row && row.dealId === dealId) rows.push(row);
      }
    });
    return rows;
  }

  /**
   * Indexes by deal the rows of every kept week (rows written before the deal index existed), then marks the
   * portal indexed so deal reads stop scanning. Idempotent: rows written meanwhile index themselves, and an
   * entry written twice holds the same week. HSETNX: an entry already there may name the visit's packed row
   * (rewritten since), which is the one to keep.
   */
  async indexLegacy(portalId: string, now: number): Promise<void> {
    for (const week of keptWeeks(now)) {
      const weekKey = this.keys.history(portalId, week);
      await scanHash(this.redis, weekKey, async (flat) => {
        const pipeline = this.redis.pipeline();
        const deals = new Set<string>();
        for (let i = 0; i < flat.length; i += 2) {
          const field = flat[i]!;
          // visitKey is `${dealId}:${stage}:${enteredAt}`; a deal id never holds ":" (keys.ts).
          const dealId = field.slice(0, field.indexOf(':'));
          if (!isKeyPart(dealId)) continue;
          pipeline.hsetnx(this.keys.historyByDeal(portalId, dealId), field, week);
          deals.add(dealId);
        }
        for (const dealId of deals)
          pipeline.pexpire(this.keys.historyByDeal(portalId, dealId), HISTORY_TTL_MS);
        const replies = (await pipeline.exec()) ?? [];
        const failed = replies.find(([err]) => err);
        if (failed) throw failed[0];
      });
    }
    // Expires with the weeks it vouches for; a portal without history then indexes its (empty) weeks again.
    await this.redis.set(this.keys.historyIndexed(portalId), String(now), 'PX', HISTORY_TTL_MS);
  }

  /** Rows in the portal's kept weeks (HLEN is O(1) per week). */
  private async keptRowCount(portalId: string, now: number): Promise<number> {
    const pipeline = this.redis.pipeline();
    for (const week of keptWeeks(now)) pipeline.hlen(this.keys.history(portalId, week));
    const replies = (await pipeline.exec()) ?? [];
    return replies.reduce((sum, [err, n]) => sum + (err ? 0 : (n as number)), 0);
  }

  /** Started by a deal read that found the portal unindexed; resolves when this process's run is over. */
  indexingSettled(portalId: string): Promise<void> {
    return this.indexing.get(portalId) ?? Promise.resolve();
  }

  private startIndexing(portalId: string, now: number): void {
    if (this.indexing.has(portalId)) return;
    const run = this.indexLegacy(portalId, now)
      .catch((err: unknown) =>
        this.log.warn({ portalId, err }, 'indexing stage history by deal failed; will retry on a later read'),
      )
      .finally(() => this.indexing.delete(portalId));
    this.indexing.set(portalId, run);
  }

  /** The read before the deal index: each kept week scanned for the deal's fields (cost grows with the week). */
  private async scanDealRows(portalId: string, dealId: string, now: number): Promise<HistoryRow[]> {
    const match = `${assertKeyPart('dealId', dealId)}:*`;
    const rows = new Map<string, HistoryRow>();
    await Promise.all(
      keptWeeks(now).map((week) =>
        scanHash(
          this.redis,
          this.keys.history(portalId, week),
          (flat) => {
            for (let j = 1; j < flat.length; j += 2) {
              const row = decodeHistoryRow(flat[j]!);
              if (row && row.dealId === dealId) rows.set(flat[j - 1]!, row);
            }
          },
          match,
          // A key of another type (corruption) reads as an empty week, as the week readers treat bad rows.
        ).catch(() => undefined),
      ),
    );
    return [...rows.values()];
  }
}

function isKeyPart(value: string): boolean {
  try {
    assertKeyPart('dealId', value);
    return true;
  } catch {
    return false;
  }
}
