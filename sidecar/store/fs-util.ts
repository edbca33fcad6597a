import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';

export function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** Errors that mean "the folder cannot be written now", not "this request is wrong". */
export const UNAVAILABLE_CODES = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOSPC', 'EDQUOT', 'EIO', 'ENOTDIR', 'ESTALE']);

export function tempName(dir: string, hint: string): string {
  return join(dir, `${hint}.${process.pid}.${randomBytes(6).toString('hex')}`);
}

/** Writes and fsyncs a new file; returns its path. */
export async function writeDurable(path: string, data: string | Buffer, flags = 'wx'): Promise<void> {
  const handle = await fs.open(path, flags, 0o600);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** fsync a directory so that a rename or link in it survives a crash. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Replaces `path` atomically (temp file in `tmpDir`, fsync, rename). */
export async function replaceFile(path: string, tmpDir: string, data: string): Promise<void> {
  const tmp = tempName(tmpDir, 'replace');
  try {
    await writeDurable(tmp, data);
    await fs.rename(tmp, path);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
}
