#!/usr/bin/env bash
# Smoke test of the built tokensync image (docker build -f docker/Dockerfile -t tokensync .):
# --version, the unprivileged user, healthy by its own HEALTHCHECK, a mounted properties file and secret in use,
# SIGTERM stops it within 2 s. One PASS/FAIL line per check; exit 1 on the first failure.
#   bash scripts/docker-smoke.sh [image]        (default: tokensync)
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE="${1:-tokensync}"
DOCKER="${DOCKER:-docker}"
SCALE="${TOKENSYNC_TEST_TIME_SCALE:-1}"
NAME="tokensync-smoke-$$"
work=$(mktemp -d /tmp/tokensync-smoke-XXXXXX)

cleanup() {
  "$DOCKER" rm -f -v "$NAME" >/dev/null 2>&1 || true  # -v: and its anonymous <AppData> volume
  rm -rf "$work"
}
trap cleanup EXIT

pass() { echo "PASS smoke: $*"; }
fail() {
  echo "FAIL smoke: $*"
  "$DOCKER" logs --tail 30 "$NAME" 2>&1 | sed 's/^/  | /' || true
  exit 1
}

version=$("$DOCKER" run --rm "$IMAGE" --version)
# the version, and the binding the image loads: built and carrying every patch of patches/zookeeper
expected="tokensync $(node -p "require('./package.json').version") (zookeeper binding $(node -p "require('./package.json').dependencies.zookeeper"), patched: fd,addwatch,resolve,send,poll,multi)"
[[ "$version" == "$expected" ]] && pass "docker run --rm $IMAGE --version: $version" || fail "--version printed '$version', not '$expected'"

# A properties file and a secret of our own, mounted read-only as a user would; the image's user must read them.
node -e "process.stdout.write(require('crypto').randomBytes(48).toString('base64url') + '\n')" >"$work/token_secret"
node -e "process.stdout.write(require('crypto').randomBytes(32).toString('base64url'))" >"$work/admin_token"
cat >"$work/tokensync.properties" <<'EOF'
node.id=smoke-node
sidecar.listen=0.0.0.0:7468
sidecar.admin.token.file=/run/tokensync/admin_token
authentication.token.secret.file=/run/tokensync/token_secret
app.data.dir=/var/lib/tokensync
EOF
chown 1000:1000 "$work/token_secret" "$work/admin_token"
chmod 0600 "$work/token_secret" "$work/admin_token"
chmod 0644 "$work/tokensync.properties"

"$DOCKER" run -d --name "$NAME" -p 127.0.0.1::7468 \
  -v "$work/tokensync.properties:/etc/tokensync/tokensync.properties:ro" \
  -v "$work/token_secret:/run/tokensync/token_secret:ro" \
  -v "$work/admin_token:/run/tokensync/admin_token:ro" \
  "$IMAGE" >/dev/null

uid=$("$DOCKER" exec "$NAME" sh -c 'stat -c %u /proc/1')
[[ "$uid" == 1000 ]] && pass "the sidecar (PID 1) runs as uid 1000" || fail "PID 1 runs as uid $uid"

# start-period 30 s, interval 10 s: the first check that passes makes it healthy.
deadline=$((SECONDS + 60 * SCALE))
status=starting
while [[ $SECONDS -lt $deadline ]]; do
  status=$("$DOCKER" inspect -f '{{.State.Health.Status}}' "$NAME")
  [[ "$status" == healthy || "$status" == unhealthy ]] && break
  sleep 1
done
[[ "$status" == healthy ]] && pass "healthy by its own HEALTHCHECK" || fail "health status '$status' after $((60 * SCALE)) s"

port=$("$DOCKER" port "$NAME" 7468/tcp | sed -n 's/^127\.0\.0\.1:\([0-9]*\)$/\1/p' | head -n1)
[[ -n "$port" ]] || fail "7468 is not published on 127.0.0.1: $("$DOCKER" port "$NAME")"
cluster=$(curl -sf "http://127.0.0.1:$port/v1/cluster" -H "Authorization: Bearer $(cat "$work/admin_token")") || fail "GET /v1/cluster on 127.0.0.1:$port"
grep -q '"smoke-node"' <<<"$cluster" && pass "the mounted properties file is used (node.id smoke-node in /v1/cluster)" \
  || fail "node.id smoke-node not in /v1/cluster: $cluster"

refused=$(curl -s -o /dev/null -w '%{http_code}' -XPOST "http://127.0.0.1:$port/v1/tokens" -H 'Content-Type: application/json' -d '{"subject":"smoke"}')
[[ "$refused" == 401 ]] && pass "issuing without the mounted admin token: 401" || fail "issuing without the admin token answered $refused"
issued=$(curl -sf -XPOST "http://127.0.0.1:$port/v1/tokens" -H 'Content-Type: application/json' \
  -H "Authorization: Bearer $(cat "$work/admin_token")" -d '{"subject":"smoke"}') || fail "issuing with the admin token"
# The token's kid names the secret that signed it (sidecar/tokens/secret-file.ts): ours, not one the image made.
kids=$(node -e '
  const { createHash } = require("crypto");
  const token = JSON.parse(process.argv[1]).token;
  const header = JSON.parse(Buffer.from(token.split(".")[0], "base64url").toString());
  const secret = require("fs").readFileSync(process.argv[2], "utf8").trim();
  const ours = createHash("sha256").update("tokensync-kid\0").update(secret).digest("base64url").slice(0, 12);
  console.log(header.kid + " " + ours);
' "$issued" "$work/token_secret")
[[ "${kids% *}" == "${kids#* }" ]] && pass "the mounted secret signs: token kid ${kids% *} is the mounted secret's" \
  || fail "token kid / mounted secret's kid: $kids"
"$DOCKER" exec "$NAME" test ! -e /var/lib/tokensync/token_secret \
  && pass "no secret of its own was created under <AppData>" || fail "the image created /var/lib/tokensync/token_secret"

started=$(date +%s%N)
"$DOCKER" kill --signal TERM "$NAME" >/dev/null
code=$(timeout $((10 * SCALE)) "$DOCKER" wait "$NAME") || fail "still running $((10 * SCALE)) s after SIGTERM"
elapsed_ms=$((($(date +%s%N) - started) / 1000000))
[[ "$code" == 0 && $elapsed_ms -le 2000 ]] && pass "SIGTERM: exit 0 in $elapsed_ms ms (limit 2000)" \
  || fail "SIGTERM: exit $code after $elapsed_ms ms (want 0 within 2000)"
