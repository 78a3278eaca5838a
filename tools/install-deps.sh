#!/usr/bin/env bash
# install-deps.sh — installs the Debian packages samsa needs that are missing.
# Used by tools/quickstart.sh and tests/run.sh; safe to run again (it only calls
# apt-get when something is missing). Output goes to the log named by
# SAMSA_DEPS_LOG (default /tmp/samsa-install-deps.log).
set -u

PACKAGES=(
    # build
    gcc make autoconf automake pkg-config
    libevent-dev libzookeeper-mt-dev libsnappy-dev libcunit1-dev libjansson-dev
    zlib1g-dev liblz4-dev libzstd-dev librdkafka-dev
    # run: ZooKeeper (brings Java) and a Kafka client
    zookeeper kcat
    # test: Debian's Python client and pytest for /usr/bin/python3
    python3 python3-pytest python3-kafka python3-snappy python3-lz4 python3-zstandard
    # kafka-python's magic 0 lz4 framing (KAFKA-3160 header checksum)
    python3-xxhash
    # test: Prometheus and promtool (the metrics endpoint), man (the installed
    # pages), systemd-analyze (the units)
    prometheus man-db systemd
    # samsa-failover-bench's plots (tools/failover-report.py)
    python3-matplotlib
)

log=${SAMSA_DEPS_LOG:-/tmp/samsa-install-deps.log}
missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# kafkajs (an npm package, used by one integration test) needs node and npm:
# the machine image may bring them; otherwise Debian's.
if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
    for p in nodejs npm; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
fi
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing ${#missing[@]} Debian package(s): ${missing[*]} (log: $log)"
if [ "$(id -u)" != 0 ]; then
    echo "install-deps: not root; install them with: sudo apt-get install ${missing[*]}" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >>"$log" 2>&1; then
    tail -n 20 "$log" >&2
    echo "install-deps: apt-get failed (log: $log)" >&2
    exit 1
fi
