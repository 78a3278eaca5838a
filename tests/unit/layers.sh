#!/usr/bin/env bash
# layers — the include rules between the source folders, checked.
#
# common/ cannot include broker/ at all (it is compiled with only common/ on
# its include path). Within each tree every folder is a layer and may
# include its own headers and those of the layers listed for it below;
# anything else is a layering break and fails this check (run by make
# check; prints "layers: N passed, N failed" like the CUnit programs).
#
# The one exception is written out: api/ reads broker_t from
# server/broker.h (the components a broker is made of), while server/ is
# the composition root that wires api/ into net/.
set -u
SRC=${SAMSA_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$SRC" || exit 1

declare -A allowed=(
    [common/util]=""
    [common/proto]="util"
    [common/zk]="util proto"
    [common/admin]="util proto zk"
    [broker/net]="util proto"
    [broker/log]="util proto"
    [broker/replica]="util proto zk log net"
    [broker/controller]="util proto zk admin net"
    [broker/group]="util proto zk admin net log replica"
    [broker/api]="util proto zk admin net log replica controller group server/broker.h"
    [broker/server]="util proto zk admin net log replica controller group api"
)

passed=0 failed=0
for dir in "${!allowed[@]}"; do
    self=${dir#*/}
    bad=0
    while IFS= read -r line; do
        file=${line%%:*}
        inc=${line#*\"}
        inc=${inc%%\"*}
        layer=${inc%%/*}
        [ "$layer" = "$inc" ] && continue # a header of the same folder, by name
        [ "$layer" = "$self" ] && continue
        ok=0
        for a in ${allowed[$dir]}; do
            if [ "$a" = "$layer" ] || [ "$a" = "$inc" ]; then ok=1; break; fi
        done
        if [ $ok -eq 0 ]; then
            echo "FAILED: $file includes \"$inc\": $dir may include only: ${allowed[$dir]:-(nothing outside itself)}"
            bad=1
        fi
    done < <(grep -Hn '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$dir"/*.[ch] 2>/dev/null)
    if [ $bad -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done

# Every source file sits in a layer folder, and every folder has its rule.
stray=$(ls broker/*.c broker/*.h common/*.c common/*.h 2>/dev/null)
for dir in $(find broker common -mindepth 1 -type d | sort); do
    ls "$dir"/*.[ch] >/dev/null 2>&1 || continue
    [ -n "${allowed[$dir]+set}" ] || stray="$stray $dir/ (no rule above)"
done
if [ -n "$stray" ]; then
    echo "FAILED: outside the layers:" $stray
    failed=$((failed + 1))
else
    passed=$((passed + 1))
fi

echo "layers: $passed passed, $failed failed"
[ $failed -eq 0 ]
