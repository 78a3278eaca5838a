#!/usr/bin/env bash
# tests/run.sh — the one test command: installs missing packages, builds samsa
# twice (plain in build/, with ASan+UBSan in build-asan/), runs the CUnit unit
# tests in both and the integration tests (real ZooKeeper, real brokers, real
# clients) against the plain build — the broker and controller ones also
# against the sanitizer build — then prints "N passed, N failed" counted
# over every suite. Exits non-zero on any failure. Safe to run again.
#
#   tests/run.sh [--no-sanitizers] [--unit-only] [-k PYTEST_EXPR]
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

sanitizers=1 integration=1 pytest_k=()
while [ $# -gt 0 ]; do
    case "$1" in
        --no-sanitizers) sanitizers=0; shift ;;
        --unit-only) integration=0; shift ;;
        -k) pytest_k=(-k "$2"); shift 2 ;;
        *) echo "usage: tests/run.sh [--no-sanitizers] [--unit-only] [-k EXPR]" >&2; exit 2 ;;
    esac
done

passed=0 failed=0
LOGDIR="$ROOT/build/test-logs"

section() { printf '\n=== %s ===\n' "$*"; }

# A step that is not a test (install, build) counts as one failure when it breaks,
# so that a broken build can never print "0 failed".
step_failed() {
    echo "FAILED: $*" >&2
    failed=$((failed + 1))
}

finish() {
    echo
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
    exit $?
}

section "dependencies"
SAMSA_DEPS_LOG="/tmp/samsa-install-deps.log" "$ROOT/tools/install-deps.sh" || { step_failed "installing packages"; finish; }
echo "all Debian packages present"

# Out-of-tree builds need a source tree that was not configured in place.
if [ -f "$ROOT/config.status" ]; then
    echo "the source tree is configured in place; running 'make distclean' there so build/ can be used"
    make -C "$ROOT" distclean >/dev/null 2>&1 || rm -f "$ROOT/config.status"
fi
if [ ! -x "$ROOT/configure" ] || [ "$ROOT/configure.ac" -nt "$ROOT/configure" ]; then
    section "autogen"
    "$ROOT/autogen.sh" >/tmp/samsa-autogen.log 2>&1 || { cat /tmp/samsa-autogen.log; step_failed "autogen.sh"; finish; }
fi

# build_tree DIR [configure args...]
build_tree() {
    local dir=$1
    shift
    mkdir -p "$dir"
    if [ ! -f "$dir/Makefile" ]; then
        (cd "$dir" && "$ROOT/configure" "$@" >configure.out 2>&1) || { tail -n 30 "$dir/configure.out"; return 1; }
    fi
    make -C "$dir" -j2 >"$dir/make.out" 2>&1 || { tail -n 40 "$dir/make.out"; return 1; }
}

# run_unit DIR LABEL: make check, then add up each program's "N passed, N failed".
run_unit() {
    local dir=$1 label=$2 p f
    make -C "$dir" -j2 check >"$dir/check.out" 2>&1
    local rc=$?
    local counted=0
    for log in "$dir"/tests/unit/*.log; do
        [ -f "$log" ] || continue
        line=$(grep -E '^[a-z_0-9-]+: [0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
        if [ -z "$line" ]; then
            echo "$label: $(basename "$log" .log) crashed or printed no summary:" >&2
            tail -n 20 "$log" >&2
            failed=$((failed + 1))
            continue
        fi
        p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed/\1/')
        f=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed/\2/')
        passed=$((passed + p)) failed=$((failed + f)) counted=$((counted + 1))
        printf '%-14s %s\n' "$label" "$line"
        if [ "$f" -gt 0 ] || grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$log"; then
            grep -E 'FAILED|ERROR|runtime error|Assertion' "$log" | head -n 20 >&2
            [ "$f" -gt 0 ] || failed=$((failed + 1))
        fi
    done
    if [ $rc -ne 0 ] && [ "$counted" -eq 0 ]; then
        tail -n 40 "$dir/check.out" >&2
        step_failed "$label: make check"
    fi
}

section "build (plain, build/)"
if build_tree "$ROOT/build"; then
    echo "built"
    section "unit tests"
    run_unit "$ROOT/build" "unit"
else
    step_failed "build"
    finish
fi

if [ $sanitizers -eq 1 ]; then
    section "build (ASan+UBSan, build-asan/)"
    if build_tree "$ROOT/build-asan" --enable-sanitizers; then
        echo "built"
        section "unit tests under sanitizers"
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
            run_unit "$ROOT/build-asan" "unit+asan"
    else
        step_failed "sanitizer build"
    fi
fi

# run_pytest BUILD NAME PATHS...: pytest against the binaries of BUILD, its
# counts added to the totals (from the junit report NAME.xml).
run_pytest() {
    local build=$1 name=$2 xml rc ip if_
    shift 2
    mkdir -p "$LOGDIR"
    xml="$LOGDIR/$name.xml"
    rm -f "$xml"
    SAMSA_BUILD="$build" SAMSA_ROOT="$ROOT" SAMSA_KAFKAJS_DIR="$KAFKAJS_DIR" /usr/bin/python3 -m pytest -q \
        -p no:cacheprovider --junitxml="$xml" "${pytest_k[@]}" "$@"
    rc=$?
    if [ -f "$xml" ]; then
        read -r ip if_ < <(/usr/bin/python3 - "$xml" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else list(root)
t = sum(int(s.get("tests", 0)) for s in suites)
f = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
sk = sum(int(s.get("skipped", 0)) for s in suites)
print(t - f - sk, f)
PY
)
        passed=$((passed + ip)) failed=$((failed + if_))
        [ $rc -ne 0 ] && [ $rc -ne 5 ] && [ "$if_" -eq 0 ] && step_failed "pytest exited $rc ($name)"
    else
        step_failed "pytest produced no report ($name, exit $rc)"
    fi
}

if [ $integration -eq 1 ]; then
    section "kafkajs (npm)"
    # kafkajs is an npm package, not a Debian one: installed once under build/.
    KAFKAJS_DIR="$ROOT/build/kafkajs"
    if [ ! -d "$KAFKAJS_DIR/node_modules/kafkajs" ]; then
        mkdir -p "$KAFKAJS_DIR"
        if (cd "$KAFKAJS_DIR" && npm install --silent --no-audit --no-fund --no-save kafkajs@2.2.4 >npm.log 2>&1); then
            echo "installed kafkajs 2.2.4"
        else
            tail -n 20 "$KAFKAJS_DIR/npm.log" >&2
            echo "npm install kafkajs failed (its test will fail)" >&2
        fi
    else
        echo "kafkajs present"
    fi

    section "integration tests"
    run_pytest "$ROOT/build" integration "$ROOT/tests/integration"

    if [ $sanitizers -eq 1 ] && [ -x "$ROOT/build-asan/broker/samsa-broker" ]; then
        # The broker and controller paths again, on the ASan+UBSan build: a
        # memory error, undefined behaviour or leak makes a broker exit
        # non-zero, which these tests check at every stop.
        section "integration tests under sanitizers (broker, controller, admin, protocol versions, groups, compaction, log flush, fetch shape, acks)"
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
            run_pytest "$ROOT/build-asan" integration-asan \
            "$ROOT/tests/integration/test_broker_basic.py" "$ROOT/tests/integration/test_controller.py" \
            "$ROOT/tests/integration/test_controller_requests.py" "$ROOT/tests/integration/test_admin_api.py" \
            "$ROOT/tests/integration/test_protocol_versions.py" "$ROOT/tests/integration/test_groups.py" \
            "$ROOT/tests/integration/test_compaction.py" "$ROOT/tests/integration/test_log_flush.py" \
            "$ROOT/tests/integration/test_fetch_shape.py" "$ROOT/tests/integration/test_acks.py"
    fi
fi

finish
