#!/usr/bin/env bash
# The Docker part of CI, on a real Docker Engine with no registry (docs/stack.md, "What runs where").
#
#   bash scripts/ci-docker.sh up      install docker.io, debootstrap and the Compose v2 plugin when missing, start
#                                     dockerd when none answers, make the stand-in base images
#   bash scripts/ci-docker.sh check   build both targets of docker/Dockerfile, smoke-test the image, run the demo
#   bash scripts/ci-docker.sh down    remove test containers left behind; stop dockerd if `up` started it
#   bash scripts/ci-docker.sh         all three, `down` also on failure
#
# .ci/run calls `up` before `npm test` (the ZooKeeper harness then runs ZooKeeperContainer), `check`, and `down`
# from a trap. Every part prints how long it took.
set -euo pipefail
cd "$(dirname "$0")/.."

STATE=/tmp/tokensync-ci-dockerd
export DOCKER_BUILDKIT=0 # Debian's engine has no buildx; BuildKit would also pull its frontend image

log() { echo "== docker: $*"; }

# /usr/local/bin/docker may be a newer client than Debian's engine; it negotiates the API version down. If some
# client cannot talk to the engine, Debian's own is used.
pick_client() {
  DOCKER=docker
  if ! docker version --format '{{.Server.APIVersion}}' >/dev/null 2>&1 && [[ -x /usr/bin/docker ]]; then DOCKER=/usr/bin/docker; fi
  export DOCKER
}

install_packages() {
  local missing=()
  command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
  command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  if [[ ${#missing[@]} -gt 0 ]]; then
    log "apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# Bookworm's docker-compose is Compose v1, which rejects the compose file's `name:`; trixie's package holds the v2
# plugin as one static binary. Fetched with an apt state of its own, so the system's sources and lists stay as they are.
install_compose_plugin() {
  docker compose version >/dev/null 2>&1 && return 0
  local tmp
  tmp=$(mktemp -d /tmp/tokensync-compose-XXXXXX)
  mkdir -p "$tmp/lists/partial" "$tmp/archives/partial"
  echo "deb http://deb.debian.org/debian trixie main" >"$tmp/sources.list"
  local opts=(-o "Dir::Etc::SourceList=$tmp/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$tmp/lists" -o "Dir::Cache::Archives=$tmp/archives" -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=)
  log "Compose v2 plugin from Debian trixie's docker-compose package"
  apt-get "${opts[@]}" update -qq >/dev/null
  (cd "$tmp" && apt-get "${opts[@]}" download docker-compose/trixie >/dev/null 2>&1)
  dpkg-deb -x "$tmp"/docker-compose_*.deb "$tmp/x"
  mkdir -p "$HOME/.docker/cli-plugins"
  install -m 0755 "$tmp/x/usr/libexec/docker/cli-plugins/docker-compose" "$HOME/.docker/cli-plugins/docker-compose"
  rm -rf "$tmp"
  docker compose version
}

install_packages_and_plugin() {
  install_packages
  install_compose_plugin
}

# --ip 127.0.0.1: a port published without an address lands on loopback, not on every interface.
start_dockerd() {
  if docker info >/dev/null 2>&1; then
    log "a Docker Engine answers already; left as it is"
    return 0
  fi
  log "starting dockerd (log: /tmp/dockerd.log)"
  setsid nohup dockerd --ip 127.0.0.1 >/tmp/dockerd.log 2>&1 </dev/null &
  echo $! >"$STATE.pid"
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && return 0
    sleep 1
  done
  tail -n 20 /tmp/dockerd.log
  echo "dockerd did not answer within 60 s" >&2
  return 1
}

timed() { # timed <label> <command...>: runs it and prints the seconds it took
  local label=$1 started=$SECONDS
  shift
  "$@"
  log "$label: $((SECONDS - started)) s"
}

up() {
  local started=$SECONDS
  timed "install engine, debootstrap, compose plugin" install_packages_and_plugin
  timed "dockerd" start_dockerd
  pick_client
  "$DOCKER" version --format 'client {{.Client.Version}} (API {{.Client.APIVersion}}), engine {{.Server.Version}}'
  timed "stand-in base images (docker/offline-base-images.sh)" bash docker/offline-base-images.sh
  log "up: $((SECONDS - started)) s"
}

build() { # build <tag> [--target T]
  local tag=$1 started=$SECONDS
  shift
  "$DOCKER" build -q -f docker/Dockerfile "$@" -t "$tag" . >/dev/null 2>/tmp/tokensync-docker-build.log \
    || { cat /tmp/tokensync-docker-build.log; return 1; }
  log "built $tag ($*): $((SECONDS - started)) s, $("$DOCKER" image inspect -f '{{.Size}}' "$tag" | awk '{ printf "%.0f MB", $1 / 1e6 }')"
}

check() {
  pick_client
  local started=$SECONDS
  build tokensync --target runtime
  build tokensync-example --target example-app
  timed "image smoke test" bash scripts/docker-smoke.sh tokensync
  timed "compose demo" bash scripts/docker-demo.sh
  log "check: $((SECONDS - started)) s"
}

down() {
  pick_client
  # Containers and networks testcontainers made (Ryuk is absent here: a crashed test file leaves its own behind).
  local left
  left=$("$DOCKER" ps -aq --filter label=org.testcontainers=true 2>/dev/null || true)
  [[ -z "$left" ]] || { log "removing $(wc -w <<<"$left") test containers left behind"; "$DOCKER" rm -f -v $left >/dev/null || true; }
  left=$("$DOCKER" network ls -q --filter label=org.testcontainers=true 2>/dev/null || true)
  [[ -z "$left" ]] || "$DOCKER" network rm $left >/dev/null 2>&1 || true
  [[ -f "$STATE.pid" ]] || return 0
  local pid
  pid=$(cat "$STATE.pid")
  rm -f "$STATE.pid"
  kill -0 "$pid" 2>/dev/null || return 0
  log "stopping dockerd (pid $pid)"
  kill -TERM "$pid"
  for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || return 0; sleep 1; done
  echo "dockerd (pid $pid) did not stop within 30 s" >&2
  return 1
}

case "${1:-all}" in
  up) up ;;
  check) check ;;
  down) down ;;
  all)
    trap down EXIT
    up
    check
    ;;
  *) echo "usage: $0 [up|check|down]" >&2; exit 2 ;;
esac
