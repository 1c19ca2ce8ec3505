#!/usr/bin/env bash
# The server under abuse (bench/abuse.py): RSS under 8 × 20 MiB bodies, the admin's latency
# during a 19,000-connection flood.
#   bench/abuse.sh [BASELINE_BIN]    (a podwarden binary of an earlier build, run beside this one)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p podwarden
exec python3 bench/abuse.py "$PWD/target/release/podwarden" "$@"
