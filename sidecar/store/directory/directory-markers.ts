import { promises as fs } from 'node:fs';
import type { Clock } from '../../util/clock.js';
import { BadRequestError } from '../../errors/bad-request-error.js';
import { decodeSubject, encodeSubject, isValidSubject } from '../token-record.js';
import { isGen, markerData, parseMarkerData, type LogoutMarker } from '../logout-marker.js';
import { errno, syncDir, tempName, writeDurable } from '../fs-util.js';

/** What the markers need of the store they belong to. */
export interface DirectoryMarkersContext {
  dir(...parts: string[]): string;
  clock: Clock;
  /** An I/O error as the store reports it (StoreUnavailableError when the folder cannot be used now). */
  unavailable(err: unknown, what: string): Error;
  closed(): boolean;
}

/** Logout markers of the DIRECTORY store: generation files under `<root>/subjects/`. */
export class DirectoryMarkers {
  /** Highest marker generation per encoded subject at the last prune (see {@link prune}). */
  private settledMarkers = new Map<string, number>();

  constructor(private readonly ctx: DirectoryMarkersContext) {}

  async raise(subject: string, floor = 0): Promise<number> {
    if (!isGen(floor)) throw new BadRequestError(`floor ${floor} is not a logout generation`);
    return this.ensureMarker(subject, (stored) => Math.max(stored + 1, floor));
  }

  async copy(subject: string, gen: number): Promise<number> {
    if (!isGen(gen)) throw new BadRequestError(`${gen} is not a logout generation`);
    return this.ensureMarker(subject, () => gen);
  }

  /**
   * A marker generation is a file `subjects/<b64 subject>~<gen>`, created exclusively (a temp file hard-linked
   * into place): the file system orders racing writers, not mtimes or clocks, so this works for several machines
   * sharing the folder. The current generation is the highest present. EEXIST means a concurrent logout created
   * that generation after we read the lower one, i.e. after this call began: it refuses every token we had to
   * refuse, so it counts as ours (going one higher would only end logins made since). Lower generation files are
   * pruned later (see pruneMarkers), never here: a listing racing with a link and an unlink may show neither.
   */
  private async ensureMarker(subject: string, requiredFrom: (stored: number) => number): Promise<number> {
    if (!isValidSubject(subject)) throw new BadRequestError('subject is empty, too long or has control characters');
    const encoded = encodeSubject(subject);
    const tmp = tempName(this.ctx.dir('tmp'), 'marker');
    try {
      const stored = (await this.readMarker(encoded)).gen;
      const required = requiredFrom(stored);
      if (stored >= required) return stored;
      await writeDurable(tmp, markerData(subject, required, this.ctx.clock.now()));
      try {
        await fs.link(tmp, this.ctx.dir('subjects', `${encoded}~${required}`));
      } catch (err) {
        if (errno(err) !== 'EEXIST') throw err;
      }
      await syncDir(this.ctx.dir('subjects'));
      return required;
    } catch (err) {
      throw this.ctx.unavailable(err, 'write a logout marker');
    } finally {
      await fs.rm(tmp, { force: true }).catch(() => {});
    }
  }

  /** The marker of one encoded subject: the highest generation file (a legacy file counts as generation 1). */
  private async readMarker(encoded: string): Promise<LogoutMarker> {
    const names = await fs.readdir(this.ctx.dir('subjects'));
    let marker: LogoutMarker = { gen: 0 };
    for (const name of names) {
      const parsed = parseMarkerName(name);
      if (parsed?.encoded !== encoded) continue;
      const next = parsed.gen !== undefined ? { gen: parsed.gen } : await this.readLegacyMarker(name);
      if (next && next.gen > marker.gen) marker = next;
    }
    return marker;
  }

  /**
   * Removes the generation files below a subject's highest once two listings a rescan apart agree on that highest:
   * a listing that runs while a file is linked and another unlinked may show neither (readdir promises nothing
   * about entries changed meanwhile), so the highest must have been there a whole interval before anything below
   * it goes. Several sidecars pruning at once is harmless.
   */
  async prune(): Promise<void> {
    const names = await fs.readdir(this.ctx.dir('subjects')).catch(() => [] as string[]);
    const highest = new Map<string, number>();
    for (const name of names) {
      const parsed = parseMarkerName(name);
      if (parsed) highest.set(parsed.encoded, Math.max(highest.get(parsed.encoded) ?? 0, parsed.gen ?? 1));
    }
    for (const name of names) {
      const parsed = parseMarkerName(name);
      if (!parsed || this.ctx.closed()) continue;
      const high = highest.get(parsed.encoded)!;
      if ((parsed.gen ?? 1) < high && this.settledMarkers.get(parsed.encoded) === high) {
        await fs.rm(this.ctx.dir('subjects', name), { force: true }).catch(() => {});
      }
    }
    this.settledMarkers = highest;
  }

  /** A marker file written before generations (`{subject, revokedBefore}`); unreadable ones are skipped. */
  private async readLegacyMarker(name: string): Promise<LogoutMarker | undefined> {
    try {
      return parseMarkerData(await fs.readFile(this.ctx.dir('subjects', name), 'utf8'));
    } catch (err) {
      if (errno(err) === 'ENOENT') return undefined;
      throw err;
    }
  }

  async list(): Promise<Map<string, LogoutMarker>> {
    const markers = new Map<string, LogoutMarker>();
    let names: string[];
    try {
      names = await fs.readdir(this.ctx.dir('subjects'));
    } catch (err) {
      throw this.ctx.unavailable(err, 'list logout markers');
    }
    const legacy: Array<{ subject: string; name: string }> = [];
    for (const name of names) {
      const parsed = parseMarkerName(name);
      const subject = parsed && decodeSubject(parsed.encoded);
      if (!parsed || subject === undefined) continue;
      if (parsed.gen === undefined) legacy.push({ subject, name });
      else if (parsed.gen > (markers.get(subject)?.gen ?? 0)) markers.set(subject, { gen: parsed.gen });
    }
    await Promise.all(
      legacy.map(async ({ subject, name }) => {
        const marker = await this.readLegacyMarker(name).catch(() => undefined);
        if (marker && !markers.has(subject)) markers.set(subject, marker);
      }),
    );
    return markers;
  }
}

/** `<b64 subject>~<gen>`, or a legacy `<b64 subject>` (gen undefined); undefined for anything else (temp files). */
function parseMarkerName(name: string): { encoded: string; gen?: number } | undefined {
  const m = /^([A-Za-z0-9_-]+)(?:~([1-9][0-9]{0,15}))?$/.exec(name);
  if (!m || (m[2] !== undefined && !Number.isSafeInteger(Number(m[2])))) return undefined;
  return m[2] === undefined ? { encoded: m[1]! } : { encoded: m[1]!, gen: Number(m[2]) };
}
