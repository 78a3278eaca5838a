#!/usr/bin/env bash
# tools/quickstart.sh — from a fresh Debian 12 machine to a running samsa:
# installs missing packages, builds into build/, starts ZooKeeper on
# 127.0.0.1:2181 and a local 3-broker cluster (127.0.0.1:9092-9094), creates a
# demo topic, and prints how to produce and consume.
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

start() {
    mkdir -p "$STATE"
    build
    echo "starting ZooKeeper on 127.0.0.1:$ZK_PORT"
    "$ROOT/tools/samsa-zookeeper" start --dir "$STATE/zookeeper" --port "$ZK_PORT" --tick-ms 2000 >/dev/null ||
        die "ZooKeeper did not start (is port $ZK_PORT taken? log: $STATE/zookeeper/zookeeper.log)"
    "$ROOT/tools/samsa-zookeeper" status --dir "$STATE/zookeeper"

    cat <<MSG

ZooKeeper is up. Not there yet in this version of samsa:
  - the broker's network layer and Kafka protocol (broker/samsa-broker validates
    a config today: $BUILD/broker/samsa-broker --check-config $ROOT/conf/broker-1.properties)
  - samsa-cluster, samsa-topics and the console tools
so no brokers are started and no demo topic is created. When they land, this
script starts brokers 1-3 on 127.0.0.1:9092-9094 and creates the topic 'demo'.

Stop everything with: tools/quickstart.sh stop
MSG
}

stop() {
    [ -d "$STATE" ] || { echo "nothing to stop"; return 0; }
    "$ROOT/tools/samsa-zookeeper" stop --dir "$STATE/zookeeper"
}

status() {
    "$ROOT/tools/samsa-zookeeper" status --dir "$STATE/zookeeper"
}

case "${1:-start}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: tools/quickstart.sh [start|stop|status]" >&2; exit 2 ;;
esac
