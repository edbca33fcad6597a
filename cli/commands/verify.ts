import { Command } from 'commander';
import { withStore } from '../context.js';
import { CliError, ioOf, printJson } from '../output.js';
import { readSecretFile } from '../../sidecar/tokens/secret-file.js';
import { TokenCodec } from '../../sidecar/tokens/token-codec.js';
import { TokenPolicy } from '../../sidecar/tokens/token-policy.js';
import { systemClock } from '../../sidecar/util/clock.js';
import { isValidJti, isValidSubject, parseRecordName, shardOf, type RecordRef } from '../../sidecar/store/token-record.js';
import { loggedOut } from '../../sidecar/store/logout-marker.js';

interface Check {
  check: string;
  ok: boolean;
  detail: string;
}

export function makeVerifyCommand(): Command {
  return new Command('verify')
    .description('decode a token without trusting it, then say exactly why it is or is not valid')
    .argument('<token>', 'the token (the cookie value)')
    .option('-c, --config <file>', 'properties file (secret file and store)')
    .option('--client-ip <ip>', 'check address binding against this client address')
    .option('--json', 'machine output')
    .addHelpText('after', '\nExample:\n  tokensync verify eyJhbGciOiJIUzI1NiIs... --config node1.properties')
    .action(async (token: string, opts: { config?: string; clientIp?: string; json?: boolean }, command: Command) => {
      const io = ioOf(command);
      const checks: Check[] = [];
      const decoded = decodeUntrusted(token);
      let valid = false;
      let reason: string | undefined;
      await withStore(opts.config, io, async ({ options, store, fallback }) => {
        const codec = new TokenCodec(await readSecretFile(options.token.secretFile), options.token.algorithm);
        const kid = decoded.header?.kid;
        if (kid !== undefined) {
          const at = codec.kids.indexOf(String(kid));
          checks.push({
            check: 'kid',
            ok: at >= 0,
            detail:
              at < 0
                ? `${String(kid)} is not one of the ${codec.kids.length} secrets of ${options.token.secretFile} (retired, or signed with another cluster's secret)`
                : at === 0
                  ? `${String(kid)}, the signing secret`
                  : `${String(kid)}, secret ${at + 1} of ${codec.kids.length} (verifies; no longer signs)`,
          });
        }
        const v = codec.verify(token);
        checks.push({
          check: 'signature',
          ok: v.ok,
          detail: v.ok ? `${options.token.algorithm}, kid ${String(kid ?? '(none)')}` : `${v.reason}: ${v.message}`,
        });
        if (!v.ok) return void (reason = v.reason);
        const policy = new TokenPolicy(options.token, systemClock);
        const refusal = policy.check(v.claims, opts.clientIp);
        const exp = v.claims.exp === undefined ? 'never expires' : `expires ${new Date(v.claims.exp * 1000).toISOString()}`;
        checks.push({ check: 'expiry and binding', ok: !refusal, detail: refusal ? `${refusal.reason}: ${refusal.message}` : exp });
        if (refusal) return void (reason = refusal.reason);
        // The record's name carries the logout generation: the token's lgn, else (a token the application signed) the listing's.
        const lgn = v.claims.lgn;
        const listed =
          lgn === undefined && isValidJti(v.claims.jti)
            ? (await store.listShard(shardOf(v.claims.jti, store.shards))).map(parseRecordName).find((r) => r?.jti === v.claims.jti)
            : undefined;
        const ref: RecordRef =
          listed ?? (lgn ? { jti: v.claims.jti, subject: v.claims.sub, gen: lgn } : { jti: v.claims.jti, subject: v.claims.sub });
        const wellFormed = isValidJti(ref.jti) && isValidSubject(ref.subject);
        let exists = wellFormed && (await store.exists(ref));
        let detail = exists ? `present in the ${store.type} store` : 'no record (revoked, consumed, reaped or never issued)';
        // a sidecar in a cutover confirms a token its store does not know against the previous store
        const previous = !exists && wellFormed ? await fallback() : undefined;
        if (previous && (await previous.exists(ref))) {
          exists = true;
          detail = `not in the ${store.type} store, present in the fallback ${previous.type} store (cluster.store.fallback.config)`;
        } else if (previous) detail += `, in neither the ${store.type} store nor the fallback ${previous.type} store`;
        checks.push({ check: 'record', ok: exists, detail });
        if (!exists) return void (reason = v.claims.knd === 'onetime' ? 'consumed' : 'revoked');
        const marker = (await store.listMarkers()).get(ref.subject);
        const out = loggedOut(marker, lgn, ref.gen ?? 0, v.claims.ath);
        const tokenGen = lgn ?? ref.gen ?? 0;
        checks.push({
          check: 'logout marker',
          ok: !out,
          detail:
            marker === undefined
              ? 'none for this subject'
              : `subject at logout generation ${marker.gen}, token issued at ${lgn === undefined && marker.legacyBefore !== undefined && !ref.gen ? new Date(v.claims.ath).toISOString() : `generation ${tokenGen}`}${out ? ': logged out after this token was issued' : ': issued after the last logout'}`,
        });
        if (out) return void (reason = 'revoked');
        valid = true;
      });
      if (opts.json) {
        printJson(io, { valid, reason: reason ?? null, header: decoded.header ?? null, claims: decoded.payload ?? null, checks });
      } else {
        if (decoded.payload) io.out(`claims  ${JSON.stringify(decoded.payload)}`);
        for (const c of checks) io.out(`${c.ok ? 'ok  ' : 'FAIL'}    ${c.check}: ${c.detail}`);
        io.out(valid ? 'VALID' : `INVALID (${reason})`);
      }
      if (!valid) throw new CliError(`INVALID (${reason})`, 1, { reported: true });
    });
}

/** What the token claims, before anything about it is trusted. */
function decodeUntrusted(token: string): { header?: Record<string, unknown>; payload?: Record<string, unknown> } {
  const parts = token.split('.');
  const part = (i: number) => {
    try {
      const v = JSON.parse(Buffer.from(parts[i] ?? '', 'base64url').toString('utf8'));
      return v && typeof v === 'object' ? (v as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
  };
  return { header: part(0), payload: part(1) };
}
