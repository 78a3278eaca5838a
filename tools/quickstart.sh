#!/usr/bin/env bash
# tools/quickstart.sh — from a fresh Debian 12 machine to a running samsa:
# installs missing packages, builds into build/, starts a local cluster with
# tools/samsa-cluster (ZooKeeper on 127.0.0.1:2181, brokers 1-3 on
# 127.0.0.1:9092-9094), creates a demo topic with samsa-topics (3 partitions,
# 3 replicas), and prints how to produce and consume.
#
#   tools/quickstart.sh          start (idempotent)
#   tools/quickstart.sh start --zookeepers 3
#                                the same with a three-server ZooKeeper ensemble
#                                (on free ports) instead of one server on 2181
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

CLUSTER_DIR="$STATE/cluster"

cluster() { SAMSA_BROKER="$BUILD/broker/samsa-broker" "$ROOT/tools/samsa-cluster" --dir "$CLUSTER_DIR" "$@"; }

topics() { "$BUILD/tools/samsa-topics" --zookeeper "$(cluster zookeeper)" "$@"; }

start() {
    local zk_opts=(--zk-port "$ZK_PORT")
    case "$*" in
        "") ;;
        "--zookeepers 1") ;;
        "--zookeepers 3"|"--zookeepers 5") zk_opts=(--zookeepers "$2") ;;
        *) echo "usage: tools/quickstart.sh start [--zookeepers 1|3|5]" >&2; exit 2 ;;
    esac
    mkdir -p "$STATE"
    build
    if [ -f "$CLUSTER_DIR/cluster.conf" ] && cluster status >/dev/null 2>&1; then
        echo "the cluster is already running:"
        cluster status
    else
        [ -f "$CLUSTER_DIR/cluster.conf" ] && cluster stop >/dev/null 2>&1
        rm -rf "$CLUSTER_DIR"
        cluster start --brokers 3 --base-port 9092 "${zk_opts[@]}" \
            --override num.partitions=3 --override default.replication.factor=3 \
            --override min.insync.replicas=2 ||
            die "the cluster did not start (is port $ZK_PORT or 9092-9094 taken? logs under $CLUSTER_DIR)"
    fi
    topics --create --topic demo --partitions 3 --replication-factor 3 --if-not-exists ||
        die "could not create the demo topic"
    local ok=0
    for _ in $(seq 1 50); do
        if echo "hello from samsa" | kcat -b 127.0.0.1:9092 -t demo -P 2>/dev/null; then ok=1; break; fi
        sleep 0.2
    done
    [ "$ok" = 1 ] || die "could not produce to the demo topic"

    cat <<MSG

samsa is running: ZooKeeper on $(cluster zookeeper), brokers 1-3 on 127.0.0.1:9092-9094.
  topics:   $BUILD/tools/samsa-topics --bootstrap-server 127.0.0.1:9092 --describe --topic demo --replicas
  produce:  seq 1 10 | $BUILD/tools/samsa-console-producer --bootstrap-server 127.0.0.1:9092 --topic demo --request-required-acks all
  consume:  $BUILD/tools/samsa-console-consumer --bootstrap-server 127.0.0.1:9092 --topic demo --from-beginning --timeout-ms 2000
  with kcat: echo "key1:hello" | kcat -b 127.0.0.1:9092 -t demo -K: -P;  kcat -b 127.0.0.1:9092 -L
  failover: $ROOT/tools/samsa-cluster --dir $CLUSTER_DIR kill 2   (then --describe again; start-broker 2 brings it back)
  logs:     $CLUSTER_DIR/broker-1/broker.log

What works and what does not yet: README.md.

Stop everything with: tools/quickstart.sh stop
MSG
}

stop() {
    if [ ! -f "$CLUSTER_DIR/cluster.conf" ]; then
        echo "nothing to stop"
        return 0
    fi
    cluster stop
}

status() {
    if [ ! -f "$CLUSTER_DIR/cluster.conf" ]; then
        echo "not running"
        return 0
    fi
    cluster status
}

case "${1:-start}" in
    start) shift; start "$@" ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: tools/quickstart.sh [start [--zookeepers 1|3|5]|stop|status]" >&2; exit 2 ;;
esac
