#!/usr/bin/env bash
# controller-bench.sh — the controller's failover at scale, A/B: for each
# round and each broker binary given (rounds interleaved, so that the
# machine's load falls on every binary alike), a fresh cluster (3 ZooKeepers,
# 3 brokers), one topic of --partitions partitions at RF 3, SIGKILL of the
# controller, and the new controller's "controller failover phases" line:
# state read, leaders and ISRs written, requests built and queued, all
# answered, total from its election. Prints a line per round, then the
# median of each phase per binary. Figures only: nothing here is asserted.
#
#   tests/bench/controller-bench.sh [--partitions N] [--rounds R] [--zookeepers 1|3]
#                                   [--warm-zookeeper] [--keep DIR] BINARY[=LABEL]...
#
# --warm-zookeeper reads every partition's state twice (samsa-topics
# --describe --zookeeper) before the kill: a fresh ensemble's JVMs are still
# compiling their read path during the failover, a production one has long
# been warm. The issue's figures were measured cold (the default).
#
# e.g. cp build/broker/samsa-broker /tmp/before; (change, rebuild);
#      tests/bench/controller-bench.sh --rounds 5 /tmp/before=before build/broker/samsa-broker=after
set -u

HERE=$(cd "$(dirname "$0")/../.." && pwd)
CLUSTER=$HERE/tools/samsa-cluster
TOPICS=$HERE/build/tools/samsa-topics
PARTITIONS=10000
ROUNDS=5
ZOOKEEPERS=3
KEEP=""
WARM=0
BINARIES=()

die() { echo "controller-bench: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
    case "$1" in
        --partitions) PARTITIONS=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        --zookeepers) ZOOKEEPERS=$2; shift 2 ;;
        --keep) KEEP=$2; shift 2 ;;
        --warm-zookeeper) WARM=1; shift ;;
        -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) die "unknown option $1" ;;
        *) BINARIES+=("$1"); shift ;;
    esac
done
[ ${#BINARIES[@]} -gt 0 ] || BINARIES=("$HERE/build/broker/samsa-broker=current")
[ -x "$TOPICS" ] || die "build first: $TOPICS is missing"

WORK=$(mktemp -d /tmp/controller-bench.XXXXXX)
# Brokers are SIGKILLed, not stopped: a controlled shutdown of 10,000
# partitions takes long and is not what is measured.
teardown() {
    local id
    for id in 1 2 3; do "$CLUSTER" --dir "$1" kill "$id" >/dev/null 2>&1; done
    "$CLUSTER" --dir "$1" stop >/dev/null 2>&1
}
cleanup() {
    local conf
    for conf in "$WORK"/*/cluster.conf; do [ -f "$conf" ] && teardown "$(dirname "$conf")"; done
    [ -n "$KEEP" ] && { mkdir -p "$KEEP" && cp -r "$WORK"/. "$KEEP"/; }
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Waits up to $3 s for pattern $2 in any of the files $1 (a glob); prints
# the last matching line.
wait_line() {
    local glob=$1 pattern=$2 limit=$3 line
    for _ in $(seq 1 $((limit * 5))); do
        # shellcheck disable=SC2086
        line=$(grep -h -- "$pattern" $glob 2>/dev/null | tail -n 1)
        [ -n "$line" ] && { echo "$line"; return 0; }
        sleep 0.2
    done
    return 1
}

# One round: prints "read written built answered total" in ms, or nothing.
run_round() {
    local bin=$1 dir=$2 base zk ctl id line
    for _ in 1 2 3 4 5; do
        base=$((20000 + RANDOM % 30000))
        SAMSA_BROKER=$bin "$CLUSTER" --dir "$dir" start --brokers 3 --zookeepers "$ZOOKEEPERS" \
            --base-port "$base" --override zookeeper.session.timeout.ms=6000 >"$dir.start" 2>&1 && break
        "$CLUSTER" --dir "$dir" stop >/dev/null 2>&1
        rm -rf "$dir"
    done
    [ -f "$dir/cluster.conf" ] || { echo "cluster did not start: $(tail -n 1 "$dir.start")" >&2; return 1; }
    zk=$("$CLUSTER" --dir "$dir" zookeeper)
    "$TOPICS" --zookeeper "$zk" --create --topic big --partitions "$PARTITIONS" --replication-factor 3 >/dev/null ||
        return 1
    wait_line "$dir/broker-*/broker.log" "topic creation: all LeaderAndIsr requests answered" 600 >/dev/null ||
        { echo "the topic's LeaderAndIsr was not answered" >&2; return 1; }
    ctl=$(grep -l "is the controller now" "$dir"/broker-*/broker.log | head -n 1)
    id=${ctl%/broker.log}
    id=${id##*broker-}
    if [ "$WARM" = 1 ]; then
        for _ in 1 2; do "$TOPICS" --zookeeper "$zk" --describe --topic big >/dev/null || return 1; done
    fi
    sleep 3 # the followers' first fetches settle
    "$CLUSTER" --dir "$dir" kill "$id" >/dev/null || return 1
    line=$(wait_line "$(printf '%s ' "$dir"/broker-*/broker.log | sed "s|$dir/broker-$id/broker.log||")" \
        "controller failover phases" 300) || { echo "no failover line" >&2; return 1; }
    echo "$line" | sed -n 's/.*state read \([0-9.]*\) ms.*written \([0-9.]*\) ms.*queued \([0-9.]*\) ms.*answered \([0-9.]*\) ms; \([0-9.]*\) ms.*/\1 \2 \3 \4 \5/p'
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) printf "%.0f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "controller failover, $PARTITIONS partitions RF 3, 3 brokers, $ZOOKEEPERS ZooKeeper(s)$([ "$WARM" = 1 ] && echo " (warmed)"), $ROUNDS round(s); ms"
printf '%-5s %-12s %8s %8s %8s %8s %8s  %s\n' round binary read written built answered total load
for r in $(seq 1 "$ROUNDS"); do
    for spec in "${BINARIES[@]}"; do
        bin=${spec%%=*}
        label=${spec#*=}
        [ "$label" = "$spec" ] && label=$(basename "$bin")
        load=$(cut -d' ' -f1 /proc/loadavg)
        dir=$WORK/$label-$r
        res=$(run_round "$(readlink -f "$bin")" "$dir")
        [ -f "$dir/cluster.conf" ] && teardown "$dir"
        [ -n "$KEEP" ] || rm -rf "$dir" # 10,000 partitions: 30,000 log folders
        if [ -z "$res" ]; then
            printf '%-5s %-12s failed\n' "$r" "$label"
            continue
        fi
        echo "$res" >>"$WORK/$label.phases"
        # shellcheck disable=SC2086
        printf '%-5s %-12s %8.0f %8.0f %8.0f %8.0f %8.0f  %s\n' "$r" "$label" $res "$load"
    done
done
echo "median"
for spec in "${BINARIES[@]}"; do
    bin=${spec%%=*}
    label=${spec#*=}
    [ "$label" = "$spec" ] && label=$(basename "$bin")
    f=$WORK/$label.phases
    [ -s "$f" ] || continue
    printf '%-5s %-12s' "" "$label"
    for col in 1 2 3 4 5; do printf ' %8s' "$(cut -d' ' -f"$col" "$f" | median)"; done
    echo
done
