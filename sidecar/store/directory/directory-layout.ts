import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../util/logger.js';
import type { ShardUpgrade } from '../token-store.js';
import { LATEST_LAYOUT, type RecordLayout, layout2Name, parseRecord, parseRecordName, refOf } from '../token-record.js';
import { layout1Notice, parseLayoutVersion } from '../record-layout.js';
import { errno, replaceFile, syncDir, tempName, writeDurable } from '../fs-util.js';

/** What `<root>/meta.json` holds. */
export interface DirectoryMeta {
  layoutVersion: RecordLayout;
  shards: number;
}

export interface DirectoryLayoutContext {
  dir(...parts: string[]): string;
  shardDir(shard: number): string;
  logger: Logger;
  upgradeCommand?: string;
}

/**
 * `<root>/meta.json` of the DIRECTORY store: the shard count and the layout version (how records are named, see
 * RecordLayout), and `store upgrade`'s conversion of a shard from layout 1 to 2.
 */
export class DirectoryLayout {
  /** How new records are named: meta.json's layoutVersion, read at start and again until it is 2. */
  recordLayout: RecordLayout = LATEST_LAYOUT;

  constructor(private readonly ctx: DirectoryLayoutContext) {}

  private get metaPath(): string {
    return this.ctx.dir('meta.json');
  }

  /** meta.json as it is, or undefined when there is none yet. */
  async read(): Promise<DirectoryMeta | undefined> {
    let text: string;
    try {
      text = await fs.readFile(this.metaPath, 'utf8');
    } catch (err) {
      if (errno(err) === 'ENOENT') return undefined;
      throw err;
    }
    const meta = JSON.parse(text) as Partial<DirectoryMeta>;
    return { layoutVersion: parseLayoutVersion(meta.layoutVersion, this.metaPath), shards: meta.shards! };
  }

  /** Creates meta.json for a new store (the first sidecar wins; the others adopt what it wrote) and reads it. */
  async ensure(shards: number): Promise<DirectoryMeta> {
    const proposed = JSON.stringify({ layoutVersion: LATEST_LAYOUT, shards });
    const tmp = tempName(this.ctx.dir('tmp'), 'meta');
    await writeDurable(tmp, proposed);
    try {
      await fs.link(tmp, this.metaPath);
    } catch (err) {
      if (errno(err) !== 'EEXIST') throw err;
    } finally {
      await fs.rm(tmp, { force: true });
    }
    const meta = (await this.read())!;
    this.recordLayout = meta.layoutVersion;
    if (meta.layoutVersion === 1) this.ctx.logger.warn(layout1Notice(this.metaPath, this.ctx.upgradeCommand));
    return meta;
  }

  /** While the store has layout 1, reads meta.json again; a layout never goes back. */
  async refresh(): Promise<RecordLayout> {
    if (this.recordLayout === 2) return 2;
    if ((await this.read())?.layoutVersion === 2) {
      this.recordLayout = 2;
      this.ctx.logger.info(`${this.metaPath} says layout 2 now: new records are named with their expiry`);
    }
    return this.recordLayout;
  }

  /** Raises meta.json's layoutVersion to 2 (replaced atomically; nothing when it is 2 already). */
  async raise(): Promise<void> {
    const meta = await this.read();
    if (!meta) throw new Error(`${this.metaPath} is missing`);
    if (meta.layoutVersion !== 2) await replaceFile(this.metaPath, this.ctx.dir('tmp'), JSON.stringify({ ...meta, layoutVersion: 2 }));
    this.recordLayout = 2;
  }

  /**
   * Renames each layout-1 record of a shard to its layout-2 name. A rename is atomic (never both names, never
   * neither), where a link and an unlink would leave a moment with both: a consume racing with it renames the
   * old name away first (this rename then finds it gone) or finds it gone and takes the new one.
   */
  async upgradeShard(shard: number): Promise<ShardUpgrade> {
    const dir = this.ctx.shardDir(shard);
    const result: ShardUpgrade = { renamed: 0, gone: 0, skipped: 0 };
    for (const name of await fs.readdir(dir)) {
      const ref = parseRecordName(name);
      if (!ref || ref.expiresAt !== undefined) continue;
      let next: string;
      try {
        const record = parseRecord(await fs.readFile(join(dir, name), 'utf8'));
        if (record.jti !== ref.jti) throw new Error('jti differs from the name');
        next = layout2Name(refOf(record));
      } catch (err) {
        if (errno(err) === 'ENOENT') result.gone++;
        else if (errno(err) === undefined) result.skipped++;
        else throw err;
        continue;
      }
      try {
        await fs.rename(join(dir, name), join(dir, next));
        result.renamed++;
      } catch (err) {
        if (errno(err) !== 'ENOENT') throw err;
        result.gone++;
      }
    }
    if (result.renamed > 0) await syncDir(dir);
    return result;
  }
}
