#!/usr/bin/env bash
# Compare builds of one client program, alternating their runs.
#
#   scripts/ab-client.sh PROGRAM MODE N REPS BIN...
#
# PROGRAM: tokio | std | raw | tokio-floor (the user-shaped bench's client
# programs); MODE: events | ping | ping-unordered; N: events or calls per
# run; BIN: user-shaped bench binaries to compare (build one with `cargo
# bench -p amiproto-testkit --bench user_shaped --no-run`, which prints its
# path, and copy it aside before changing the code). Each run is a fresh
# `ami-load` (events: the 13-event-flood capture) and one client process;
# the binaries take turns, REPS rounds. Prints per run: the binary, items
# per second and CPU per item (user + system time of the client process).
set -euo pipefail

if [ $# -lt 5 ]; then
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
program=$1 mode=$2 n=$3 reps=$4
shift 4
root=$(cd "$(dirname "$0")/.." && pwd)
cargo build --quiet --release -p amiproto-testkit --bin ami-load --manifest-path "$root/Cargo.toml"
load="$root/target/release/ami-load"
capture="$root/tests/data/asterisk-22.10.1/13-event-flood.server.bin"

one_run() {
    local bin=$1 server extra port line out
    if [ "$mode" = events ]; then
        server=(events --capture "$capture" --events "$n")
        extra=()
    else
        server=(ping)
        extra=("$n" 256)
    fi
    coproc LOAD { "$load" --max-conns 1 "${server[@]}"; }
    read -r line <&"${LOAD[0]}"
    port=$(sed 's/.*:\([0-9]*\)".*/\1/' <<<"$line")
    out=$( { /usr/bin/time -f 'cpu %U %S' "$bin" client "$program" "$mode" "$port" "${extra[@]}"; } 2>&1 )
    wait "$LOAD_PID" || true
    python3 - "$bin" "$n" "$out" <<'EOF'
import json, re, sys
bin, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
res = json.loads(out[out.index("{"):out.index("}") + 1])
user, sys_ = map(float, re.search(r"cpu ([\d.]+) ([\d.]+)", out).groups())
rate = res.get("events_per_s") or res.get("actions_per_s")
print(f"{bin}  {rate / 1e6:.3f} M/s  {(user + sys_) / n * 1e6:.3f} us CPU/item")
EOF
}

for _ in $(seq "$reps"); do
    for bin in "$@"; do
        one_run "$bin"
    done
done
