// HEALTHCHECK of the tokensync image: GET /healthz of the sidecar in this container; exit 0 on 200.
// Node rather than curl: the slim runtime image has no curl. A sidecar listening elsewhere than
// 127.0.0.1:7468 (or 0.0.0.0:7468) sets TOKENSYNC_HEALTHCHECK_URL.
const url = process.env.TOKENSYNC_HEALTHCHECK_URL ?? 'http://127.0.0.1:7468/healthz';
try {
  const res = await fetch(url, { signal: AbortSignal.timeout(2500) });
  if (res.status !== 200) {
    console.error(`${url}: ${res.status}`);
    process.exit(1);
  }
  process.exit(0);
} catch (err) {
  console.error(`${url}: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
