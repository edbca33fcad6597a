import type { LogoutMarker } from '../logout-marker.js';
import { parseMarkerData } from '../logout-marker.js';
import { decodeSubject } from '../token-record.js';
import { forEachBounded } from '../../util/for-each-bounded.js';
import { CoalescedTask } from './coalesced-task.js';
import type { TreeWatcherHost } from './tree-watcher.js';
import type { ZkClient } from './zk-client.js';
import { ZkCode, ZkError, isZkError } from './zk-error.js';

type MarkerRead = { status: 'value'; value: LogoutMarker } | { status: 'missing' } | { status: 'stale' } | { status: 'invalid' };

/**
 * Follows the logout markers for a {@link TreeWatcher}: a child watch on `/subjects` (a marker appeared or went) and
 * a data watch per marker (raised). A full read reports `markers`; a change, `marker`. A reply is dropped when a
 * later read or a deletion of the same marker was noted before it arrived (sequence numbers shared with the
 * watcher's other reads), so a late reply never brings a marker back or moves it backwards.
 */
export class MarkerWatcher {
  private active = true;
  private readonly task = new CoalescedTask(() => this.read());
  /** The next read of the children reads every marker (a rebuild, a retry). */
  private full = false;
  /** encoded subject -> marker, as last reported. */
  private known = new Map<string, LogoutMarker>();
  private readonly floor = new Map<string, number>();

  constructor(
    private readonly host: Pick<TreeWatcherHost, 'layout' | 'logger' | 'readConcurrency' | 'client' | 'emit'>,
    private readonly nextSeq: () => number,
    /** A watch-triggered read failed (its watch is un-armed): the watcher retries or reports. */
    private readonly readFailed: (error: unknown) => void,
  ) {}

  /** Markers as last reported. */
  get count(): number {
    return this.known.size;
  }

  /** Reads every marker (setting the watches again) and reports them as `markers`. */
  readAll(): Promise<void> {
    this.full = true;
    return this.task.request();
  }

  /** After a failed read: every marker again, in the background. */
  retry(): void {
    this.full = true;
    this.task.request().catch((error: unknown) => this.readFailed(error));
  }

  /** `/subjects` changed: markers that appeared are read, those gone reported gone. */
  childrenChanged(): void {
    this.task.request().catch((error: unknown) => this.readFailed(error));
  }

  markerChanged(encoded: string): void {
    this.refresh(encoded).catch((error: unknown) => this.readFailed(error));
  }

  markerDeleted(encoded: string): void {
    this.gone(encoded);
  }

  stop(): void {
    this.active = false;
  }

  private async read(): Promise<void> {
    const full = this.full;
    this.full = false;
    try {
      const client = this.host.client();
      const names = await client.getChildren(this.host.layout.subjects, true);
      if (full) {
        const values = new Map<string, LogoutMarker>();
        await forEachBounded(names, this.host.readConcurrency, async (encoded) => {
          const read = await this.readValue(client, encoded);
          if (read.status === 'value') values.set(encoded, read.value);
        });
        if (!this.active) return;
        this.known = values;
        const bySubject = new Map<string, LogoutMarker>();
        for (const [encoded, value] of values) bySubject.set(decodeSubject(encoded)!, value);
        this.host.emit('markers', bySubject);
      } else {
        const present = new Set(names);
        for (const encoded of [...this.known.keys()]) {
          if (!present.has(encoded)) this.gone(encoded);
        }
        const fresh = names.filter((encoded) => !this.known.has(encoded));
        await forEachBounded(fresh, this.host.readConcurrency, (encoded) => this.refresh(encoded));
      }
    } catch (error) {
      if (full) this.full = true;
      throw error;
    }
  }

  /** Reads one marker and re-arms its data watch. */
  private async readValue(client: ZkClient, encoded: string): Promise<MarkerRead> {
    if (decodeSubject(encoded) === undefined) return { status: 'invalid' };
    const seq = this.nextSeq();
    const path = `${this.host.layout.subjects}/${encoded}`;
    try {
      const { data } = await client.get(path, true);
      if (seq < (this.floor.get(encoded) ?? 0)) return { status: 'stale' };
      this.floor.set(encoded, seq);
      const value = parseMarkerData(data);
      if (!value) throw new Error('neither gen nor revokedBefore');
      return { status: 'value', value };
    } catch (error) {
      if (isZkError(error, ZkCode.NONODE)) return { status: 'missing' };
      if (error instanceof ZkError) throw error;
      this.host.logger.warn(`ignoring ${path}: not a logout marker (${(error as Error).message})`);
      return { status: 'invalid' };
    }
  }

  private async refresh(encoded: string): Promise<void> {
    const read = await this.readValue(this.host.client(), encoded);
    if (!this.active) return;
    if (read.status === 'missing') this.gone(encoded);
    else if (read.status === 'value' && !sameMarker(this.known.get(encoded), read.value)) {
      this.known.set(encoded, read.value);
      this.host.emit('marker', decodeSubject(encoded)!, read.value);
    }
  }

  private gone(encoded: string): void {
    this.floor.set(encoded, this.nextSeq());
    if (this.known.delete(encoded)) this.host.emit('marker', decodeSubject(encoded)!, null);
  }
}

function sameMarker(a: LogoutMarker | undefined, b: LogoutMarker): boolean {
  return a !== undefined && a.gen === b.gen && a.legacyBefore === b.legacyBefore;
}
