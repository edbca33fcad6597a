import { isIP } from 'node:net';

/** `::ffff:10.0.0.1` and `10.0.0.1` are the same client; compare them as one. */
export function normalizeIp(ip: string): string {
  const trimmed = ip.trim();
  const lower = trimmed.toLowerCase();
  if (lower.startsWith('::ffff:') && isIP(lower.slice(7)) === 4) return lower.slice(7);
  return isIP(trimmed) === 6 ? lower : trimmed;
}

function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((acc, part) => (acc << 8) + Number(part), 0) >>> 0;
}

function ipv6ToBigInt(zoned: string): bigint {
  // isIP() accepts a zone id (`fe80::1%eth0`, `::%x`); it is no part of the address, and parseInt would make it NaN.
  const ip = zoned.split('%')[0]!;
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const missing = 8 - h.length - t.length;
  const parts = [...h, ...Array(tail !== undefined ? missing : 0).fill('0'), ...t];
  return parts.reduce((acc, p) => (acc << 16n) + BigInt(parseInt(p || '0', 16)), 0n);
}

/** Is `ip` inside one of the CIDRs (or equal to one of the plain addresses)? */
export function ipInRanges(ip: string, ranges: string[]): boolean {
  const addr = normalizeIp(ip);
  const family = isIP(addr);
  if (family === 0) return false;
  for (const range of ranges) {
    const [base, bitsText] = range.split('/');
    if (!base || isIP(base) !== family) continue;
    const bits = bitsText === undefined ? (family === 4 ? 32 : 128) : Number(bitsText);
    if (family === 4) {
      const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
      if ((ipv4ToInt(addr) & mask) === (ipv4ToInt(base) & mask)) return true;
    } else {
      const shift = BigInt(128 - bits);
      if (ipv6ToBigInt(addr) >> shift === ipv6ToBigInt(base.toLowerCase()) >> shift) return true;
    }
  }
  return false;
}
