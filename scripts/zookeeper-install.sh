#!/usr/bin/env bash
# Installs Debian's ZooKeeper server (3.8) for the integration tests' local provider
# (integration-tests/zookeeper/local-zookeeper.ts), unless it is already there.
# Idempotent and quiet when nothing is to be done; called by .ci/run. Needs root for apt-get.
set -euo pipefail

jar=/usr/share/java/zookeeper.jar

if [[ -f "$jar" ]] && command -v java >/dev/null 2>&1; then
  echo "zookeeper-install: $jar and java present, nothing to do"
  exit 0
fi

if [[ "$(id -u)" -ne 0 ]]; then
  sudo=sudo
else
  sudo=
fi

echo "zookeeper-install: installing Debian's zookeeper package"
$sudo apt-get update -qq
# The zookeeper package brings default-jre and libzookeeper-java (the jar and its slf4j/log4j jars).
# Only the configured Debian sources are used.
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends zookeeper >/dev/null

if [[ ! -f "$jar" ]]; then
  echo "zookeeper-install: $jar still missing after apt-get install zookeeper" >&2
  exit 1
fi
# The package installs an init script and a service; tests start their own servers on free loopback ports,
# so make sure a packaged server on 2181 is not left running (no-op where there is no service manager).
if command -v service >/dev/null 2>&1 && service zookeeper status >/dev/null 2>&1; then
  $sudo service zookeeper stop >/dev/null 2>&1 || true
fi
echo "zookeeper-install: done ($(java -version 2>&1 | head -n1))"
