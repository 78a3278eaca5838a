#!/usr/bin/env bash
# tools/quickstart.sh — from a fresh Debian 12 machine to a running samsa:
# installs missing packages, builds into build/, starts ZooKeeper on
# 127.0.0.1:2181 and broker 1 on 127.0.0.1:9092 (brokers 2 and 3 join once the
# ZooKeeper controller exists), creates a demo topic, and prints how to
# produce and consume.
#
#   tools/quickstart.sh          start (idempotent)
#   tools/quickstart.sh stop     stop everything it started
#   tools/quickstart.sh status   show what is running
#
# State lives in $SAMSA_QUICKSTART_DIR (default /tmp/samsa-quickstart).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
STATE=${SAMSA_QUICKSTART_DIR:-/tmp/samsa-quickstart}
ZK_PORT=2181
BUILD="$ROOT/build"

die() { echo "quickstart: $*" >&2; exit 1; }

build() {
    "$ROOT/tools/install-deps.sh" || die "could not install the packages samsa needs"
    if [ -f "$ROOT/config.status" ]; then
        make -C "$ROOT" distclean >/dev/null 2>&1 || rm -f "$ROOT/config.status"
    fi
    if [ ! -x "$ROOT/configure" ] || [ "$ROOT/configure.ac" -nt "$ROOT/configure" ]; then
        "$ROOT/autogen.sh" >"$STATE/autogen.log" 2>&1 || die "autogen.sh failed (log: $STATE/autogen.log)"
    fi
    mkdir -p "$BUILD"
    if [ ! -f "$BUILD/Makefile" ]; then
        (cd "$BUILD" && "$ROOT/configure" >"$STATE/configure.log" 2>&1) ||
            die "configure failed (log: $STATE/configure.log)"
    fi
    echo "building samsa (log: $STATE/make.log)"
    make -C "$BUILD" -j2 >"$STATE/make.log" 2>&1 || die "build failed (log: $STATE/make.log)"
}

broker_pid() { [ -f "$STATE/broker-1.pid" ] && cat "$STATE/broker-1.pid"; }

start_broker() {
    local pid
    pid=$(broker_pid)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        echo "broker 1 already running (pid $pid)"
        return 0
    fi
    mkdir -p "$STATE/broker-1"
    setsid "$BUILD/broker/samsa-broker" "$ROOT/conf/broker-1.properties" \
        --override log.dirs="$STATE/broker-1/logs" \
        --override zookeeper.connect=127.0.0.1:$ZK_PORT \
        --override num.partitions=3 \
        --override min.insync.replicas=1 \
        >"$STATE/broker-1/broker.log" 2>&1 </dev/null &
    echo $! >"$STATE/broker-1.pid"
    for _ in $(seq 1 100); do
        (exec 3<>/dev/tcp/127.0.0.1/9092) 2>/dev/null && { echo "broker 1 serving 127.0.0.1:9092 (pid $(broker_pid))"; return 0; }
        kill -0 "$(broker_pid)" 2>/dev/null || break
        sleep 0.1
    done
    tail -n 20 "$STATE/broker-1/broker.log" >&2
    die "broker 1 did not start (log: $STATE/broker-1/broker.log)"
}

start() {
    mkdir -p "$STATE"
    build
    echo "starting ZooKeeper on 127.0.0.1:$ZK_PORT"
    "$ROOT/tools/samsa-zookeeper" start --dir "$STATE/zookeeper" --port "$ZK_PORT" --tick-ms 2000 >/dev/null ||
        die "ZooKeeper did not start (is port $ZK_PORT taken? log: $STATE/zookeeper/zookeeper.log)"
    "$ROOT/tools/samsa-zookeeper" status --dir "$STATE/zookeeper"
    start_broker
    echo "hello from samsa" | kcat -b 127.0.0.1:9092 -t demo -P 2>/dev/null ||
        die "could not produce to the demo topic"
    echo "created topic 'demo' (3 partitions)"

    cat <<MSG

samsa is running: one broker on 127.0.0.1:9092.
  produce:  echo "key1:hello" | kcat -b 127.0.0.1:9092 -t demo -K: -P
  consume:  kcat -b 127.0.0.1:9092 -t demo -C -o beginning -e
  metadata: kcat -b 127.0.0.1:9092 -L
  logs:     $BUILD/tools/samsa-dump-log --print-data-log $STATE/broker-1/logs/demo-0/00000000000000000000.log

Not there yet in this version: the ZooKeeper controller (brokers 2 and 3 of
conf/broker-*.properties, replication and failover), samsa-topics,
samsa-cluster and the console tools. Until then the broker runs standalone:
it leads every partition itself and creates topics on first use.

Stop everything with: tools/quickstart.sh stop
MSG
}

stop() {
    [ -d "$STATE" ] || { echo "nothing to stop"; return 0; }
    local pid
    pid=$(broker_pid)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
        echo "broker 1 stopped"
    fi
    rm -f "$STATE/broker-1.pid"
    "$ROOT/tools/samsa-zookeeper" stop --dir "$STATE/zookeeper"
}

status() {
    local pid
    pid=$(broker_pid)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then echo "broker 1 pid $pid serving 127.0.0.1:9092"; else echo "broker 1 not running"; fi
    "$ROOT/tools/samsa-zookeeper" status --dir "$STATE/zookeeper"
}

case "${1:-start}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: tools/quickstart.sh [start|stop|status]" >&2; exit 2 ;;
esac
