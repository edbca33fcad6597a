#!/usr/bin/env bash
# The compose demo, run the way docs/stack.md tells a user: up with --build --wait, log in on app1, use the session
# on app2 and through nginx, log out, kill the ZooKeeper leader (logins go on), kill a second server (the sidecars
# serve from their mirrors and journal writes), start both again (the journal is replayed), down -v.
# One PASS/FAIL line per step; exit 1 on the first failure (the stack is taken down either way).
#   bash scripts/docker-demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DOCKER="${DOCKER:-docker}"
SCALE="${TOKENSYNC_TEST_TIME_SCALE:-1}"
COMPOSE=("$DOCKER" compose -f docker/compose.yaml)
# The demo publishes these on 127.0.0.1 (nginx, app1, app2); docs/stack.md uses localhost.
NGINX=127.0.0.1:8080 APP1=127.0.0.1:8081 APP2=127.0.0.1:8082

pass() { echo "PASS demo: $*"; }
fail() {
  echo "FAIL demo: $*"
  "${COMPOSE[@]}" ps -a 2>&1 | sed 's/^/  | /' || true
  "${COMPOSE[@]}" logs --tail 15 sidecar1 sidecar2 app1 app2 2>&1 | sed 's/^/  | /' || true
  exit 1
}
cleanup() { "${COMPOSE[@]}" down -v --remove-orphans >/dev/null 2>&1 || true; }
trap cleanup EXIT

# Waits until "$@" succeeds, up to $1 seconds (scaled); the command's last output is kept in $last.
last=
until_ok() {
  local limit=$(($1 * SCALE)) deadline
  shift
  deadline=$((SECONDS + limit))
  while true; do
    if last=$("$@" 2>&1); then return 0; fi
    [[ $SECONDS -lt $deadline ]] || return 1
    sleep 1
  done
}

for port in 8080 8081 8082; do
  ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || fail "127.0.0.1:$port is taken: the demo publishes nginx, app1 and app2 there"
done

started=$SECONDS
"${COMPOSE[@]}" up -d --build --wait >/tmp/tokensync-demo-up.log 2>&1 \
  || { tail -n 30 /tmp/tokensync-demo-up.log; fail "docker compose up -d --build --wait"; }
rm -f /tmp/tokensync-demo-up.log
pass "docker compose -f docker/compose.yaml up -d --build --wait: every service healthy in $((SECONDS - started)) s"

login() { # login <host:port> <user> -> prints the cookie; fails on anything but a JSON answer naming the user
  local res
  res=$(curl -si -XPOST "$1/login" -H 'Accept: application/json' -d "username=$2") || return 1
  grep -q "\"subject\":\"$2\"" <<<"$res" || { echo "$res"; return 1; }
  sed -n 's/^[Ss]et-[Cc]ookie: \(tokensync=[^;]*\).*/\1/p' <<<"$res"
}
me() { curl -s "$1/api/me" -H "Cookie: $2"; }
status_of() { curl -s -o /dev/null -w '%{http_code}' "$1/api/me" -H "Cookie: $2"; }
healthz() { "${COMPOSE[@]}" exec -T "$1" node -e "fetch('http://127.0.0.1:7468/healthz').then(r => r.text()).then(console.log)"; }
zk_mode() { "${COMPOSE[@]}" exec -T "$1" zkServer.sh status 2>&1 | sed -n 's/^Mode: //p'; }

alice=$(login "$APP1" alice) && [[ -n "$alice" ]] || fail "log in as alice on app1: $alice"
pass "logged in as alice on app1"
res=$(me "$APP2" "$alice")
grep -q '"subject":"alice"' <<<"$res" && grep -q '"node":"app2"' <<<"$res" && pass "app2 knows alice's session: $res" \
  || fail "app2 with alice's cookie: $res"
nodes=
for _ in 1 2 3 4 5 6 7 8; do
  res=$(me "$NGINX" "$alice")
  grep -q '"proxySubject":"alice"' <<<"$res" || fail "through nginx: $res"
  nodes+=" $(sed -n 's/.*"node":"\(app[12]\)".*/\1/p' <<<"$res")"
done
[[ "$nodes" == *app1* && "$nodes" == *app2* ]] && pass "through nginx, forward auth names alice, both apps answer:$nodes" \
  || fail "through nginx, not both apps:$nodes"

res=$(curl -s -XPOST "$APP2/logout" -H 'Accept: application/json' -H "Cookie: $alice")
grep -q '"revoked":1' <<<"$res" || fail "log out on app2: $res"
headers=$(curl -si "$NGINX/api/me" -H "Cookie: $alice")
grep -q '^HTTP/1.1 401' <<<"$headers" && grep -qi '^X-Auth-Reason: revoked' <<<"$headers" \
  || fail "after logout, nginx: $(head -n1 <<<"$headers")"
res=$(me "$APP1" "$alice")
grep -q '"reason":"revoked"' <<<"$res" && pass "logged out on app2: 401 revoked at nginx and on app1" || fail "after logout, app1: $res"

leader=
for z in zk1 zk2 zk3; do [[ "$(zk_mode $z)" == leader ]] && leader=$z; done
[[ -n "$leader" ]] || fail "no ZooKeeper server says Mode: leader"
"${COMPOSE[@]}" kill "$leader" >/dev/null 2>&1
rest=()
for z in zk1 zk2 zk3; do [[ $z == "$leader" ]] || rest+=("$z"); done
quorum() { local m; for z in "${rest[@]}"; do m=$(zk_mode "$z"); [[ $m == leader || $m == follower ]] || return 1; done; }
until_ok 60 quorum || fail "no quorum of ${rest[*]} after killing the leader $leader"
bob=$(login "$APP1" bob) && [[ -n "$bob" ]] || fail "log in as bob with the leader $leader killed: $bob"
# sidecar1's own session may still be moving to a new server: then bob's session is journaled there, and the other
# nodes learn it when sidecar1 replays its journal (README, "Store outages"); until then app2 rightly refuses it.
replayed() { healthz sidecar1 | grep -q '"journalPending":0'; }
until_ok 30 replayed || fail "sidecar1 did not replay its journal after the leader $leader was killed: $last"
# app2's own session may still be moving too: until it can ask the store about a token it has not seen it answers
# 503 (retry). A 401 now would be a wrong answer (and clear bob's cookie): the first one ends the wait, failed.
knows() { local r; r=$(curl -s -w ' HTTP %{http_code}' "$1/api/me" -H "Cookie: $2" 2>&1); echo "$r"; [[ $r == *'HTTP 401' ]] || grep -q "\"subject\":\"$3\"" <<<"$r"; }
until_ok 20 knows "$APP2" "$bob" bob && [[ $last != *'HTTP 401' ]] \
  && pass "leader $leader killed, ${rest[*]} elect a new one: bob logs in on app1, app2 knows him" \
  || fail "bob on app2 after the leader was killed: $last"

second=${rest[0]}
"${COMPOSE[@]}" kill "$second" >/dev/null 2>&1
degraded() { healthz "$1" | grep -q '"status":"degraded"'; }
until_ok 60 degraded sidecar1 && until_ok 60 degraded sidecar2 \
  || fail "$second killed too: the sidecars' /healthz does not say degraded: $last"
res=$(me "$APP2" "$bob")
grep -q '"subject":"bob"' <<<"$res" || fail "no quorum: app2 no longer serves bob's session from its mirror: $res"
carol=$(login "$APP1" carol) && [[ -n "$carol" ]] || fail "log in as carol without a quorum: $carol"
until_ok 10 healthz sidecar1 && grep -q '"journalPending":[1-9]' <<<"$last" \
  || fail "carol's login is not in sidecar1's journal: $last"
pass "$second killed too (no quorum): /healthz degraded, bob's session served from the mirror, carol's login journaled ($last)"

"${COMPOSE[@]}" start "$leader" "$second" >/dev/null 2>&1
replayed() { healthz sidecar1 | grep -q '"journalPending":0' && [[ $(status_of "$APP2" "$carol") == 200 ]]; }
until_ok 90 replayed || fail "$leader and $second started again: the journal is not replayed ($last; carol on app2: $(status_of "$APP2" "$carol"))"
pass "$leader and $second started again: sidecar1's journal replayed, app2 knows carol's session"

"${COMPOSE[@]}" down -v >/dev/null 2>&1 || fail "docker compose down -v"
left=$("$DOCKER" ps -aq --filter label=com.docker.compose.project=tokensync-demo)
[[ -z "$left" ]] && pass "docker compose down -v: nothing left ($((SECONDS - started)) s in all)" || fail "containers left after down -v: $left"
