#!/usr/bin/env bash
# The server under abuse (bench/abuse.py): RSS under 8 × 20 MiB bodies, the admin's latency
# during a 19,000-connection flood.
#   bench/abuse.sh [BASELINE_BIN]    (a podwarden binary of an earlier build, run beside this one)
#   BENCH_SMOKE=1: tiny sizes (scripts/test runs it so, to show it still works)
set -euo pipefail
cd "$(dirname "$0")/.."
# PODWARDEN_BIN: a binary already built (the smoke run in scripts/test passes the debug one).
bin=${PODWARDEN_BIN:-}
if [ -z "$bin" ]; then
  cargo build --release -q -p podwarden
  bin=$PWD/target/release/podwarden
fi
exec python3 bench/abuse.py "$bin" "$@"
