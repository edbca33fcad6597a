import { createHash } from 'node:crypto';

/** The fingerprint Mirror.digest computes, over any list of record names. */
export function digestOf(names: Iterable<string>): { size: number; xor: string } {
  let xor = 0n;
  let size = 0;
  for (const name of names) {
    xor ^= createHash('sha256').update(name).digest().readBigUInt64BE(0);
    size++;
  }
  return { size, xor: xor.toString(16).padStart(16, '0') };
}
