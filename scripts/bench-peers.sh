#!/usr/bin/env bash
# Side by side with the other AMI client libraries (Node, Python, Perl, Ruby,
# Rust), one command from the repository:
#
#   scripts/bench-peers.sh                 # events + ping, every client, 3 reps
#   scripts/bench-peers.sh events          # arguments go to the harness's run.sh
#   ONLY="rust-baseline-raw rust-amiproto-tokio node-ami" scripts/bench-peers.sh
#
# It runs the side-by-side harness that sits beside the project
# (`../shared/bench`, or AMI_BENCH_HARNESS=DIR), from a copy outside the
# repository (AMI_BENCH_WORKDIR, default ${TMPDIR:-/tmp}/amiproto-bench-peers;
# the peers it installs are kept there between runs). In the copy, the
# harness's two amiproto client programs are replaced by this repository's
# user-shaped ones (tests/benches/user_shaped/{tokio,std}_client.rs with
# harness.rs: library
# defaults, a task per call; same CLI and JSON line as every harness client),
# built against this checkout; the real corpus is this repository's
# tests/data/asterisk-22.10.1/13-event-flood capture. Then the harness's
# install-peers.sh (npm, PyPI, Debian packages; nothing is put in the
# repository) and run.sh run, and its summary table is printed and kept in
# $AMI_BENCH_WORKDIR/bench/results/latest/summary.md.
#
# Every knob of run.sh applies (REPS, EVENTS_PER_RUN, PING_N, WINDOW, ONLY,
# SKIP, TIMEOUT...); see its header. INSTALL_PEERS=0 skips install-peers.sh.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)

harness=${AMI_BENCH_HARNESS:-}
if [ -z "$harness" ]; then
  for c in "$REPO/../shared/bench" "$REPO/../../shared/bench"; do
    if [ -f "$c/run.sh" ]; then harness=$c; break; fi
  done
fi
if [ -z "$harness" ] || [ ! -f "$harness/run.sh" ]; then
  echo "bench-peers: harness not found; set AMI_BENCH_HARNESS to the shared bench folder" >&2
  exit 2
fi
harness=$(cd "$harness" && pwd)

work=${AMI_BENCH_WORKDIR:-${TMPDIR:-/tmp}/amiproto-bench-peers}
case "$(realpath -m "$work")/" in
  "$REPO"/*) echo "bench-peers: AMI_BENCH_WORKDIR must be outside the repository" >&2; exit 2;;
esac
mkdir -p "$work/bench"
B=$(cd "$work/bench" && pwd)

# A fresh copy of the harness; installed peers, build outputs and earlier
# results stay.
echo "bench-peers: harness $harness -> $B" >&2
(cd "$harness" && tar --exclude=./.peers --exclude=./results --exclude='./*/target' \
  --exclude='./clients/*/target' --exclude=./.amiproto -cf - .) | (cd "$B" && tar -xf -)
chmod -R u+w "$B"

# The real corpus: this repository's Asterisk 22 flood capture (run.sh looks
# for ../shared/corpus/asterisk-*/*flood*.server.bin beside its folder).
mkdir -p "$work/shared/corpus"
ln -sfn "$REPO/tests/data/asterisk-22.10.1" "$work/shared/corpus/asterisk-22.10.1"

# Our user-shaped client programs in place of the harness's.
for flavour in tokio std; do
  dir=$B/clients/rust-amiproto-$flavour
  rm -rf "$dir"
  mkdir -p "$dir/src"
  extra_deps=""
  if [ "$flavour" = tokio ]; then
    extra_deps='tokio = { version = "1", features = ["full"] }
futures-util = { version = "0.3", default-features = false, features = ["alloc"] }'
  fi
  cat > "$dir/Cargo.toml" <<EOF
# Written by amiproto's scripts/bench-peers.sh: the repository's user-shaped
# client program, built against the checkout linked as bench/.amiproto.
[package]
name = "bench-rust-amiproto-$flavour"
version = "0.1.0"
edition = "2021"
publish = false

[dependencies]
amiproto-$flavour = { path = "../../.amiproto/amiproto-$flavour" }
$extra_deps

[profile.release]
opt-level = 3
codegen-units = 1
lto = true
EOF
  cat > "$dir/src/main.rs" <<EOF
//! Written by amiproto's scripts/bench-peers.sh.
#[path = "$REPO/tests/benches/user_shaped/harness.rs"]
mod harness;
#[path = "$REPO/tests/benches/user_shaped/${flavour}_client.rs"]
mod client;

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    client::main(&args)
}
EOF
done

if [ "${INSTALL_PEERS:-1}" = 1 ]; then
  "$B/install-peers.sh" || echo "bench-peers: some peers failed to install; they will be skipped" >&2
fi
echo "bench-peers: load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores" >&2
AMIPROTO_DIR=$REPO "$B/run.sh" "$@"
echo "bench-peers: load average $(cut -d' ' -f1-3 /proc/loadavg) at the end; summary: $B/results/latest/summary.md" >&2
