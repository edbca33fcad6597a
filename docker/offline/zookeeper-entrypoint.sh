#!/usr/bin/env bash
# Entrypoint of the zookeeper:3.8.4 stand-in (docker/offline-base-images.sh): takes the official image's
# environment, writes /conf/zoo.cfg and data/myid when they are missing, and runs the server in the foreground
# with its log on the container's output.
set -euo pipefail

conf=/conf/zoo.cfg
if [[ ! -f "$conf" ]]; then
  {
    echo "dataDir=${ZOO_DATA_DIR:-/data}"
    echo "dataLogDir=${ZOO_DATA_LOG_DIR:-/datalog}"
    echo "tickTime=${ZOO_TICK_TIME:-2000}"
    echo "initLimit=${ZOO_INIT_LIMIT:-5}"
    echo "syncLimit=${ZOO_SYNC_LIMIT:-2}"
    echo "autopurge.snapRetainCount=${ZOO_AUTOPURGE_SNAPRETAINCOUNT:-3}"
    echo "autopurge.purgeInterval=${ZOO_AUTOPURGE_PURGEINTERVAL:-0}"
    echo "maxClientCnxns=${ZOO_MAX_CLIENT_CNXNS:-60}"
    echo "standaloneEnabled=${ZOO_STANDALONE_ENABLED:-true}"
    echo "admin.enableServer=${ZOO_ADMINSERVER_ENABLED:-true}"
    echo "4lw.commands.whitelist=${ZOO_4LW_COMMANDS_WHITELIST:-srvr}"
    # Word splitting on purpose: both variables are space-separated lists of lines.
    for server in ${ZOO_SERVERS:-server.1=localhost:2888:3888;2181}; do echo "$server"; done
    for extra in ${ZOO_CFG_EXTRA:-}; do echo "$extra"; done
  } >"$conf"
fi
[[ -f /conf/log4j.properties ]] || cat >/conf/log4j.properties <<'LOG4J'
log4j.rootLogger=INFO, CONSOLE
log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender
log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout
log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} [myid:%X{myid}] - %-5p [%t:%C{1}@%L] - %m%n
LOG4J
# Debian's zkServer.sh and zkCli.sh source /usr/share/zookeeper/bin/zkEnv.sh, a link to this file.
[[ -f /conf/environment ]] || cat >/conf/environment <<'ENVIRONMENT'
ZOOMAIN=org.apache.zookeeper.server.quorum.QuorumPeerMain
ZOOCFGDIR=/conf
ZOOCFG=/conf/zoo.cfg
ZOO_LOG_DIR=/logs
ZOO_LOG4J_PROP=INFO,CONSOLE
JMXDISABLE=true
JAVA=java
CLASSPATH="/conf:/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar"
ENVIRONMENT
data_dir=$(sed -n 's/^dataDir=//p' "$conf")
[[ -f "$data_dir/myid" ]] || echo "${ZOO_MY_ID:-1}" >"$data_dir/myid"

if [[ "$*" == "zkServer.sh start-foreground" ]]; then
  # Debian's zkServer.sh puts no slf4j binding on its class path (the server would log nothing) and logs to
  # /var/log/zookeeper: run the same main class directly instead, as PID 1, so docker stop reaches the JVM.
  # shellcheck disable=SC2086 # JVM flags are word lists
  exec java ${SERVER_JVMFLAGS:-} ${JVMFLAGS:-} \
    -cp /conf:/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar \
    -Dlog4j.configuration=file:/conf/log4j.properties \
    org.apache.zookeeper.server.quorum.QuorumPeerMain "$conf"
fi
exec "$@"
