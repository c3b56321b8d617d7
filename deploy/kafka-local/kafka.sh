#!/usr/bin/env bash
# Local single-node Apache Kafka (KRaft) for development, tests and CI.
#
#   kafka.sh up      fetch the broker jars (Maven), format storage once, start on loopback, wait until ready
#   kafka.sh down    stop the broker started by `up` (SIGTERM, then SIGKILL after a grace period)
#   kafka.sh status  exit 0 when the broker answers
#   kafka.sh fetch   only fetch the jars
#   kafka.sh reset   stop and delete the data directory
#
# Environment: KAFKA_PORT (default 9092), KAFKA_CONTROLLER_PORT (default KAFKA_PORT+1),
# KAFKA_DATA_DIR (default deploy/kafka-local/run), KAFKA_HEAP_OPTS (default -Xms256m -Xmx768m).
# Both `up` and `down` are safe to run twice.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
port="${KAFKA_PORT:-9092}"
cport="${KAFKA_CONTROLLER_PORT:-$((port + 1))}"
data="${KAFKA_DATA_DIR:-$here/run}"
libs="$here/target/libs"
pidfile="$data/kafka.pid"
logfile="$data/kafka.log"
props="$data/server.properties"

log() { printf 'kafka-local: %s\n' "$*" >&2; }

ensure_tools() {
  local need=()
  command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
  command -v mvn >/dev/null 2>&1 || need+=(maven)
  if ((${#need[@]})); then
    if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
      log "missing ${need[*]}: install Java 17 and Maven, then run again"; exit 1
    fi
    log "installing ${need[*]} with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
}

fetch() {
  if [[ -f "$libs/.complete" && "$libs/.complete" -nt "$here/pom.xml" ]]; then return 0; fi
  ensure_tools
  log "fetching broker jars with Maven (first run only)"
  rm -rf "$libs"
  (cd "$here" && mvn -q -B -Dstyle.color=never dependency:copy-dependencies)
  touch "$libs/.complete"
}

answers() {
  # A TCP accept on the client port only counts once the broker has logged that it started.
  [[ -f "$logfile" ]] && grep -q "Kafka Server started" "$logfile" 2>/dev/null &&
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
}

running_pid() {
  [[ -f "$pidfile" ]] || return 1
  local pid; pid=$(cat "$pidfile")
  kill -0 "$pid" 2>/dev/null && echo "$pid"
}

write_config() {
  mkdir -p "$data/logs"
  cat >"$props" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$data/logs
# One node: every internal topic has one replica, so idempotent and transactional producers work.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
min.insync.replicas=1
default.replication.factor=1
num.partitions=1
# hookgate creates its own topics; auto-create would hide a missing create.
auto.create.topics.enable=false
group.initial.rebalance.delay.ms=0
log.retention.hours=24
log.segment.bytes=67108864
PROPS
  cat >"$data/log4j2.properties" <<L4J
status = error
appender.file.type = File
appender.file.name = file
appender.file.fileName = $logfile
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.state.name = state.change.logger
logger.state.level = WARN
L4J
}

up() {
  if pid=$(running_pid) && answers; then log "already running (pid $pid) on 127.0.0.1:$port"; return 0; fi
  if pid=$(running_pid); then
    log "a broker (pid $pid) is starting; waiting for it"
  else
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      log "port $port is taken by another process; set KAFKA_PORT"; exit 1
    fi
    fetch
    write_config
    if [[ ! -f "$data/logs/meta.properties" ]]; then
      java -cp "$libs/*" -Dlog4j2.configurationFile="$data/log4j2.properties" \
        kafka.tools.StorageTool format -t "$(java -cp "$libs/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1)" \
        -c "$props" >"$data/format.log" 2>&1 || { cat "$data/format.log" >&2; exit 1; }
    fi
    : >"$logfile"
    # setsid: the broker outlives the shell that started it (make, CI steps).
    # shellcheck disable=SC2086
    setsid nohup java ${KAFKA_HEAP_OPTS:--Xms256m -Xmx768m} -XX:+UseG1GC -Djava.awt.headless=true \
      -Dlog4j2.configurationFile="$data/log4j2.properties" -cp "$libs/*" kafka.Kafka "$props" \
      >>"$data/stdout.log" 2>&1 </dev/null &
    echo $! >"$pidfile"
    log "starting (pid $(cat "$pidfile")), log: $logfile"
  fi
  for _ in $(seq 1 240); do
    if answers; then log "ready on 127.0.0.1:$port"; return 0; fi
    if ! running_pid >/dev/null; then
      log "broker exited during start-up; last lines:"; tail -n 30 "$logfile" "$data/stdout.log" >&2 || true; exit 1
    fi
    sleep 0.5
  done
  log "not ready after 120 s; see $logfile"; exit 1
}

down() {
  local pid
  if ! pid=$(running_pid); then log "not running"; rm -f "$pidfile"; return 0; fi
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then log "still running after 30 s; killing"; kill -9 "$pid" 2>/dev/null || true; fi
  rm -f "$pidfile"
  log "stopped"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) answers && running_pid >/dev/null ;;
  fetch) fetch ;;
  reset) down; rm -rf "$data" ;;
  *) echo "usage: $0 up|down|status|fetch|reset" >&2; exit 2 ;;
esac
