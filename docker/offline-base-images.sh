#!/usr/bin/env bash
# Makes stand-ins for the base images that docker/Dockerfile and docker/compose.yaml name, for a Docker Engine
# that cannot reach any registry. Each stand-in is built from Debian's packages (and this machine's Node.js) and
# tagged with the official name, so both files stay exactly what a user with registry access runs. Images that are
# present already are left alone; run it again and it does nothing.
#
#   bash docker/offline-base-images.sh          # needs root (debootstrap), docker, debootstrap
#
# Stand-ins (each close enough for this repository, not a copy of the official image):
#   node:20.20.2-bookworm(-slim)  Debian bookworm minbase + /usr/bin/node, npm, Node's headers, user node (1000),
#                                 this machine's CA bundle and a global npmrc (cafile, nodedir=/usr) for builds
#   zookeeper:3.8.4               Debian's ZooKeeper 3.8 on a headless JRE, configured from the official image's
#                                 environment (ZOO_MY_ID, ZOO_SERVERS, ZOO_*), zkServer.sh on the PATH
#   nginx:1.27.5-alpine           Debian's nginx, `nginx -g 'daemon off;'`, logs to the container's output
set -euo pipefail
cd "$(dirname "$0")/.."

DOCKER="${DOCKER:-docker}"
SUITE=bookworm
BASE=tokensync-offline/debian:$SUITE
NODE_VERSION=v20.20.2

TEMPS=()
trap 'rm -rf "${TEMPS[@]}"' EXIT
# scratch NAME: a temporary directory in $SCRATCH, removed on exit (not in a subshell: TEMPS must see it)
scratch() { SCRATCH=$(mktemp -d "/tmp/tokensync-$1-XXXXXX"); TEMPS+=("$SCRATCH"); }

log() { echo "offline-base-images: $*"; }
die() { echo "offline-base-images: $*" >&2; exit 1; }

have_image() { "$DOCKER" image inspect "$1" >/dev/null 2>&1; }

# Every FROM of the Dockerfile and every image: of the compose file, minus what the repository builds itself.
wanted_images() {
  {
    sed -n 's/^FROM[[:space:]]\{1,\}\([^[:space:]]\{1,\}\).*/\1/Ip' docker/Dockerfile
    sed -n 's/^[[:space:]]*image:[[:space:]]*\([^[:space:]]\{1,\}\).*/\1/p' docker/compose.yaml
  } | grep -v -E '^(tokensync|tokensync-example)(:|$)' | grep -v -x -E 'build|prod-deps|example-app|runtime' | sort -u
}

# The Debian mirror apt is set up with (deb822 or one-line format), else deb.debian.org.
debian_mirror() {
  local uri
  uri=$(sed -n 's/^URIs:[[:space:]]*\(\S*\/debian\)\/\{0,1\}$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)
  [[ -n "$uri" ]] || uri=$(sed -n "s/^deb[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]\{1,\}\)\{0,1\}\(\S*\/debian\)\/\{0,1\}[[:space:]]\{1,\}$SUITE[[:space:]].*/\2/p" /etc/apt/sources.list 2>/dev/null | head -n1)
  echo "${uri:-http://deb.debian.org/debian}"
}

make_base() {
  have_image "$BASE" && return 0
  command -v debootstrap >/dev/null || die "debootstrap is missing: apt-get install -y debootstrap"
  [[ $(id -u) -eq 0 ]] || die "debootstrap needs root"
  local mirror rootfs
  mirror=$(debian_mirror)
  scratch rootfs
  rootfs=$SCRATCH
  TEMPS+=("$rootfs.log")
  log "debootstrap --variant=minbase $SUITE from $mirror"
  debootstrap --variant=minbase "$SUITE" "$rootfs" "$mirror" >"$rootfs.log" 2>&1 \
    || { tail -n 20 "$rootfs.log" >&2; die "debootstrap failed"; }
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  # The same apt sources as the official debian image, on the mirror this machine uses.
  printf 'deb %s %s main\ndeb %s %s-updates main\n' "$mirror" "$SUITE" "$mirror" "$SUITE" >"$rootfs/etc/apt/sources.list"
  tar -C "$rootfs" -c . | "$DOCKER" import --change 'CMD ["bash"]' - "$BASE" >/dev/null
  log "made $BASE"
}

# Builds a stand-in from a Dockerfile given on stdin and a context directory prepared by the caller.
build_standin() {
  local tag=$1 context=$2
  local out
  # The legacy builder (no BuildKit without buildx; BuildKit would try to pull its frontend image).
  out=$(DOCKER_BUILDKIT=0 "$DOCKER" build -t "$tag" -f - "$context" 2>&1) || { echo "$out" >&2; die "building $tag failed"; }
  log "made $tag"
}

make_node() {
  local slim=$1 full=$2 context
  [[ "$(node --version 2>/dev/null)" == "$NODE_VERSION" ]] \
    || die "the Node stand-ins copy this machine's Node.js, which must be $NODE_VERSION (is $(node --version 2>/dev/null || echo missing))"
  scratch node
  context=$SCRATCH
  mkdir -p "$context/usr/bin" "$context/usr/lib/node_modules" "$context/usr/include" "$context/usr/etc" "$context/etc/ssl/certs"
  cp /usr/bin/node "$context/usr/bin/node"
  cp -a /usr/lib/node_modules/npm "$context/usr/lib/node_modules/npm"
  cp -a /usr/include/node "$context/usr/include/node"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$context/usr/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$context/usr/bin/npx"
  cp /etc/ssl/certs/ca-certificates.crt "$context/etc/ssl/certs/ca-certificates.crt"
  # npm reaches the registry with this CA bundle; node-gyp builds against the headers above instead of fetching them.
  printf 'cafile=/etc/ssl/certs/ca-certificates.crt\nnodedir=/usr\nupdate-notifier=false\n' >"$context/usr/etc/npmrc"
  build_standin "$slim" "$context" <<EOF
FROM $BASE
COPY . /
RUN groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \
 && node --version && npm --version
ENV NODE_VERSION=${NODE_VERSION#v}
CMD ["node"]
EOF
  # The official full image adds a toolchain; docker/Dockerfile installs what it needs itself.
  "$DOCKER" tag "$slim" "$full"
  log "made $full (same as $slim)"
}

make_zookeeper() {
  local tag=$1 context
  scratch zk
  context=$SCRATCH
  cp docker/offline/zookeeper-entrypoint.sh "$context/docker-entrypoint.sh"
  build_standin "$tag" "$context" <<EOF
FROM $BASE
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      openjdk-17-jre-headless libzookeeper-java libslf4j-java liblog4j1.2-java \
 && cd /tmp && apt-get download zookeeper && dpkg-deb -x zookeeper_*.deb /tmp/zk \
 && cp -a /tmp/zk/usr/share/zookeeper /usr/share/zookeeper \
 && rm -rf /tmp/zk /tmp/zookeeper_*.deb /var/lib/apt/lists/* \
 && groupadd --gid 1000 zookeeper && useradd --uid 1000 --gid zookeeper --no-create-home zookeeper \
 && mkdir -p /conf /data /datalog /logs /etc/zookeeper \
 && ln -s /conf /etc/zookeeper/conf \
 && chown zookeeper:zookeeper /conf /data /datalog /logs
COPY docker-entrypoint.sh /docker-entrypoint.sh
ENV PATH=/usr/share/zookeeper/bin:\$PATH ZOOCFGDIR=/conf
USER zookeeper
EXPOSE 2181 2888 3888
VOLUME /data /datalog /logs
ENTRYPOINT ["/docker-entrypoint.sh"]
CMD ["zkServer.sh", "start-foreground"]
EOF
}

make_nginx() {
  local tag=$1 context
  scratch nginx
  context=$SCRATCH
  build_standin "$tag" "$context" <<EOF
FROM $BASE
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx \
 && rm -rf /var/lib/apt/lists/* \
 && ln -sf /dev/stdout /var/log/nginx/access.log \
 && ln -sf /dev/stderr /var/log/nginx/error.log
EXPOSE 80
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
EOF
}

started=$SECONDS
missing=()
while read -r image; do
  [[ -n "$image" ]] || continue
  if have_image "$image"; then log "$image is present, left alone"; else missing+=("$image"); fi
done < <(wanted_images)
[[ ${#missing[@]} -gt 0 ]] || { log "nothing to do"; exit 0; }

make_base
node_done=
for image in "${missing[@]}"; do
  case "$image" in
    node:${NODE_VERSION#v}-bookworm | node:${NODE_VERSION#v}-bookworm-slim)
      [[ -n "$node_done" ]] && continue
      # One build serves both tags, but never replaces one that is present.
      if have_image "node:${NODE_VERSION#v}-bookworm-slim"; then
        "$DOCKER" tag "node:${NODE_VERSION#v}-bookworm-slim" "node:${NODE_VERSION#v}-bookworm"
        log "made node:${NODE_VERSION#v}-bookworm (same as -slim)"
      elif have_image "node:${NODE_VERSION#v}-bookworm"; then
        make_node "node:${NODE_VERSION#v}-bookworm-slim" "tokensync-offline/unused:node"
        "$DOCKER" rmi "tokensync-offline/unused:node" >/dev/null
      else
        make_node "node:${NODE_VERSION#v}-bookworm-slim" "node:${NODE_VERSION#v}-bookworm"
      fi
      node_done=1
      ;;
    zookeeper:*) make_zookeeper "$image" ;;
    nginx:*) make_nginx "$image" ;;
    *) die "no stand-in recipe for $image (named in docker/Dockerfile or docker/compose.yaml)" ;;
  esac
done
log "done in $((SECONDS - started)) s"
