import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { FileHandle } from 'node:fs/promises';
import type { Logger } from '../util/logger.js';
import type { RecordRef, TokenRecord } from './token-record.js';
import { errno, replaceFile } from './fs-util.js';
import { JournalUnavailableError } from '../errors/journal-unavailable-error.js';

export type JournalOp =
  /** `receipt`: the create was sent and its answer lost; that receipt tells whether it was applied (ReplayReceipts). */
  | { op: 'create'; record: TokenRecord; receipt?: string }
  | { op: 'delete'; ref: RecordRef }
  /**
   * A logout: raise the subject's generation by one over what is stored when sent. `floor`: journaled during an
   * outage, the generation it took here at once (one above what this node knew), so that the tokens this node
   * answered before it are refused whatever the store holds at replay. (`revokedBefore`: an older version's entry.)
   */
  | { op: 'marker'; subject: string; floor?: number; revokedBefore?: number };

export type JournalEntry = JournalOp & { seq: number; at: number };

/** `journal.sending`: the entries up to `seq` were sent; their creates with `receipt`, deleting `stale` receipts. */
export interface JournalSending {
  seq: number;
  receipt?: string;
  stale: string[];
}

/** `journal.sending`: JSON, or the bare sequence number older versions wrote; anything unreadable is "nothing sent". */
function parseSending(text: string): JournalSending {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return { seq: Number(trimmed), stale: [] };
  try {
    const v = JSON.parse(trimmed) as Partial<JournalSending>;
    const names = (x: unknown): x is string => typeof x === 'string' && x.length > 0;
    return {
      seq: Number.isSafeInteger(v.seq) && v.seq! > 0 ? v.seq! : 0,
      ...(names(v.receipt) ? { receipt: v.receipt } : {}),
      stale: Array.isArray(v.stale) ? v.stale.filter(names) : [],
    };
  } catch {
    return { seq: 0, stale: [] };
  }
}

/**
 * Writes accepted while the store is unreachable, kept durably under
 * `<AppData>` and replayed in order when the store is back (also after a
 * restart). Each append is fsynced before the client is answered, so an
 * acknowledged issue or revocation survives `kill -9`.
 *
 * Format: `journal.log` holds one JSON entry per line; `journal.done` holds
 * the sequence number of the last entry applied to the store;
 * `journal.sending` the last entry sent to it (`{seq, receipt, stale}`, or
 * the bare number an older version wrote). Replaying a delete twice is
 * harmless, a marker twice raises the generation twice (ending logins made
 * in between, never keeping one alive). A create is not: sent before a crash but not recorded
 * done, it may have reached the store and been revoked on another node since,
 * and sending it again would bring the revoked token back. Such entries
 * ({@link sendingAtOpen}) are told apart so the replay can be careful: with
 * the receipt their transaction carried, it can ask the store whether they
 * were applied.
 */
export class Journal {
  private handle: FileHandle | undefined;
  private entries: JournalEntry[] = [];
  private nextSeq = 1;
  private done = 0;
  /** This journal's name for itself, kept in `journal.id` (see {@link id}). */
  private journalId = '';
  /** What the process before this one recorded in `journal.sending` (see sendingAtOpen). */
  private sendingOpen: JournalSending = { seq: 0, stale: [] };
  private tail: Promise<unknown> = Promise.resolve();
  /** Bytes of journal.log that hold whole entries: a failed append is cut back to this. */
  private bytes = 0;
  /** A failed append left bytes that could not be cut back: the next entry starts on a line of its own. */
  private torn = false;

  constructor(
    private readonly dir: string,
    private readonly log: Logger,
  ) {}

  private get logPath(): string {
    return join(this.dir, 'journal.log');
  }

  private get donePath(): string {
    return join(this.dir, 'journal.done');
  }

  private get idPath(): string {
    return join(this.dir, 'journal.id');
  }

  private get sendingPath(): string {
    return join(this.dir, 'journal.sending');
  }

  async open(): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    this.done = Number((await fs.readFile(this.donePath, 'utf8').catch(() => '0')).trim()) || 0;
    const text = await fs.readFile(this.logPath, 'utf8').catch(() => '');
    let last = this.done;
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        const entry = JSON.parse(line) as JournalEntry;
        last = Math.max(last, entry.seq);
        if (entry.seq > this.done) this.entries.push(entry);
      } catch {
        // A torn last line from a crash mid-append: that entry was never acknowledged.
        this.log.warn('journal: ignoring a torn line', { dir: this.dir });
      }
    }
    this.nextSeq = last + 1;
    this.sendingOpen = parseSending(await fs.readFile(this.sendingPath, 'utf8').catch(() => ''));
    const id = (await fs.readFile(this.idPath, 'utf8').catch(() => '')).trim();
    if (/^[A-Za-z0-9_-]{12}$/.test(id)) this.journalId = id;
    else await replaceFile(this.idPath, this.dir, (this.journalId = randomBytes(9).toString('base64url')));
    this.handle = await fs.open(this.logPath, 'a', 0o600);
    this.bytes = (await this.handle.stat()).size;
    if (this.entries.length > 0) this.log.info('journal: entries waiting for the store', { pending: this.entries.length });
  }

  /**
   * Twelve base64url characters, made at the first open and kept: the prefix of the store receipts this
   * journal's writes carry, so that a restarted sidecar finds what its predecessor left.
   */
  get id(): string {
    return this.journalId;
  }

  /** Pending entries in order. */
  pending(): readonly JournalEntry[] {
    return this.entries;
  }

  get size(): number {
    return this.entries.length;
  }

  /** Appends and fsyncs; resolves once the entry is durable. */
  append(op: JournalOp, now = Date.now()): Promise<JournalEntry> {
    const run = async () => {
      if (!this.handle) throw new Error('journal is not open');
      const handle = this.handle;
      const entry = { ...op, seq: this.nextSeq++, at: now } as JournalEntry;
      const line = Buffer.from(`${this.torn ? '\n' : ''}${JSON.stringify(entry)}\n`);
      try {
        // a full disk can take part of the line and report it as written: that entry is not durable
        const { bytesWritten } = await handle.write(line);
        if (bytesWritten !== line.length) {
          throw Object.assign(new Error(`short write: ${bytesWritten} of ${line.length} bytes`), { code: 'ENOSPC' });
        }
        await handle.datasync();
      } catch (err) {
        // Cut the partial line off: left there, the next entry appended would be glued to it and lost on reopen.
        this.torn = !(await handle.truncate(this.bytes).then(
          () => true,
          () => false,
        ));
        const code = errno(err) ?? 'EIO';
        throw new JournalUnavailableError(
          `the store is unreachable and the journal cannot keep this write: ${this.dir} ` +
            `(${code}${code === 'ENOSPC' ? ', no space left' : code === 'EROFS' ? ', read-only' : ''}); ` +
            'free space or fix cluster.store.journal.dir',
          { cause: err },
        );
      }
      this.bytes += line.length;
      this.torn = false;
      this.entries.push(entry);
      return entry;
    };
    const result = this.tail.then(run, run);
    this.tail = result.catch(() => undefined);
    return result;
  }

  /**
   * Records, durably, that the entries up to `seq` are about to be sent to the store, their creates in the
   * transaction that makes `receipt` (deleting the `stale` receipts): after a crash, the next process knows
   * which pending entries may have reached it, and how to ask whether they did.
   */
  markSending(seq: number, receipt?: string, stale: readonly string[] = []): Promise<void> {
    const sending: JournalSending = { seq, ...(receipt ? { receipt } : {}), stale: [...stale] };
    const run = () => replaceFile(this.sendingPath, this.dir, JSON.stringify(sending));
    const result = this.tail.then(run, run);
    this.tail = result.catch(() => undefined);
    return result;
  }

  /**
   * `journal.sending` as the process before this one left it: pending entries up to its `seq` were sent to the
   * store without the outcome recorded (the process was killed in between); they may have been applied, and
   * undone by someone else since.
   */
  get sendingAtOpen(): Readonly<JournalSending> {
    return this.sendingOpen;
  }

  /** Records that the first pending entry reached the store. */
  complete(seq: number): Promise<void> {
    return this.finish(seq, true);
  }

  /** Records that every pending entry up to `seq` (one of them) reached the store: one durable write. */
  completeThrough(seq: number): Promise<void> {
    return this.finish(seq, false);
  }

  private async finish(seq: number, firstOnly: boolean): Promise<void> {
    const run = async () => {
      const upTo = this.entries.findIndex((e) => e.seq === seq);
      if (upTo < 0 || (firstOnly && upTo > 0)) throw new Error(`journal: completing ${seq} out of order`);
      this.entries.splice(0, upTo + 1);
      this.done = seq;
      if (this.entries.length === 0 && this.handle) {
        // Everything is in the store: start a fresh log so it does not grow forever.
        await this.handle.truncate(0);
        await this.handle.datasync();
        this.bytes = 0;
        this.torn = false;
      }
      await replaceFile(this.donePath, this.dir, String(this.done));
    };
    const result = this.tail.then(run, run);
    this.tail = result.catch(() => undefined);
    return result;
  }

  async close(): Promise<void> {
    await this.tail;
    await this.handle?.close();
    this.handle = undefined;
  }
}
