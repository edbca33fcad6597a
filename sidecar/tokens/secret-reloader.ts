import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Logger } from '../util/logger.js';
import type { TokenCodec } from './token-codec.js';
import { readSecretFile } from './secret-file.js';

/** A rotated secret file takes effect without a restart (file watch, or SIGHUP via {@link SecretReloader.reload}). */
export class SecretReloader {
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly secretFile: string,
    private readonly codec: TokenCodec,
    private readonly logger: Logger,
    /** Called after the key ids changed (the other members compare theirs with ours). */
    private readonly onKeysChanged: () => void,
  ) {}

  watch(): void {
    try {
      // Watch the folder: rotation replaces the file by rename, which a watch on the old inode would miss.
      const name = basename(this.secretFile);
      this.watcher = watch(dirname(this.secretFile), { persistent: false }, (_event, file) => {
        // The folder is usually <AppData>: ignore everything but the secret file (and its temp file during a rename).
        if (file && !file.startsWith(name)) return;
        clearTimeout(this.timer);
        this.timer = setTimeout(() => void this.reload(), 100);
      });
      this.watcher.on('error', () => undefined);
    } catch (err) {
      this.logger.warn('cannot watch the secret file; send SIGHUP after rotating it', { error: String(err) });
    }
  }

  async reload(): Promise<void> {
    try {
      const keys = await readSecretFile(this.secretFile);
      const before = this.codec.kids.join(',');
      this.codec.setKeys(keys);
      if (before !== this.codec.kids.join(',')) {
        this.logger.info('signing keys reloaded', { kids: this.codec.kids, signing: this.codec.kids[0] });
        this.onKeysChanged();
      }
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      this.logger.error('secret file reload refused; keeping the previous keys', { error });
    }
  }

  close(): void {
    clearTimeout(this.timer);
    this.watcher?.close();
  }
}
