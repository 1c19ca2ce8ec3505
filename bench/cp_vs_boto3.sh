#!/usr/bin/env bash
# `podwarden cp` vs boto3 (RunPod's documented S3 client) on the same 1 GiB file, against the
# embedded emulator's S3 API, in one run: wall time, throughput and peak RSS of each; then
# `podwarden cp` of a hosted non-admin user, whose bytes go through the server (no S3 key).
#   bench/cp_vs_boto3.sh [SIZE_MIB]        (default 1024; needs .venv with boto3: ./scripts/test)
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib=${1:-1024}
# PODWARDEN_BIN: a binary already built (the smoke run in scripts/test passes the debug one).
bin=${PODWARDEN_BIN:-}
if [ -z "$bin" ]; then
  cargo build --release -q -p podwarden
  bin=$PWD/target/release/podwarden
fi
py=$PWD/.venv/bin/python
work=$(mktemp -d)
export PODWARDEN_HOME=$work/home
cleanup() {
  # The CLI started a background server for this PODWARDEN_HOME: stop it.
  if [ -f "$PODWARDEN_HOME/server.json" ]; then
    kill "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' "$PODWARDEN_HOME/server.json")" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

"$bin" volume create bench --size-gb 10 --data-center EU-RO-1 >/dev/null
head -c "$((size_mib * 1024 * 1024))" /dev/urandom > "$work/file.bin"
url=$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['url'])" "$PODWARDEN_HOME/server.json")
token=$(cat "$PODWARDEN_HOME/token")
s3=$(curl -sf -H "Authorization: Bearer $token" "$url/api/v1/volumes/bench/s3")

# One measured command: prints "seconds max_rss_kib".
measure() {
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
  cat "$work/time"
}

cat > "$work/boto.py" <<'EOF'
import json, sys, boto3
from botocore.config import Config
loc = json.loads(sys.argv[1]); op, local, key = sys.argv[2:5]
s3 = boto3.client("s3", endpoint_url=loc["endpoint"], region_name=loc["region"],
                  aws_access_key_id=loc["access_key_id"], aws_secret_access_key=loc["secret_access_key"],
                  config=Config(s3={"addressing_style": "path"}))
if op == "up":
    s3.upload_file(local, loc["bucket"], key)
else:
    s3.download_file(loc["bucket"], key, local)
EOF

row() { # name seconds rss
  awk -v n="$1" -v s="$2" -v r="$3" -v mib="$size_mib" 'BEGIN { printf "| %s | %.2f s | %.0f MiB/s | %.0f MiB |\n", n, s, mib / s, r / 1024 }'
}
read -r pu_s pu_r < <(measure "$bin" cp "$work/file.bin" vol:bench/pw.bin)
read -r bu_s bu_r < <(measure "$py" "$work/boto.py" "$s3" up "$work/file.bin" boto.bin)
rm -f "$work/down.bin"
read -r pd_s pd_r < <(measure "$bin" cp vol:bench/pw.bin "$work/down.bin")
cmp -s "$work/file.bin" "$work/down.bin" || { echo "podwarden cp: the download differs" >&2; exit 1; }
rm -f "$work/down.bin"
read -r bd_s bd_r < <(measure "$py" "$work/boto.py" "$s3" down "$work/down.bin" boto.bin)
cmp -s "$work/file.bin" "$work/down.bin" || { echo "boto3: the download differs" >&2; exit 1; }

# A hosted user without an S3 key: through the server.
ana=$(curl -sf -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -d '{"name":"bench-user"}' "$url/api/v1/users" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
PODWARDEN_URL=$url PODWARDEN_TOKEN=$ana "$bin" volume create mine --size-gb 10 --data-center EU-RO-1 >/dev/null
read -r su_s su_r < <(PODWARDEN_URL=$url PODWARDEN_TOKEN=$ana measure "$bin" cp "$work/file.bin" vol:mine/pw.bin)
rm -f "$work/down.bin"
read -r sd_s sd_r < <(PODWARDEN_URL=$url PODWARDEN_TOKEN=$ana measure "$bin" cp vol:mine/pw.bin "$work/down.bin")
cmp -s "$work/file.bin" "$work/down.bin" || { echo "podwarden cp through the server: the download differs" >&2; exit 1; }
server_pid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' "$PODWARDEN_HOME/server.json")
server_hwm=$(awk '/VmHWM/ {print $2}' "/proc/$server_pid/status")

echo "| ${size_mib} MiB | time | throughput | peak RSS |"
echo "|---|---|---|---|"
row "podwarden cp, upload" "$pu_s" "$pu_r"
row "boto3 upload_file" "$bu_s" "$bu_r"
row "podwarden cp, download" "$pd_s" "$pd_r"
row "boto3 download_file" "$bd_s" "$bd_r"
row "podwarden cp through the server, upload" "$su_s" "$su_r"
row "podwarden cp through the server, download" "$sd_s" "$sd_r"
echo
echo "server process peak RSS over the whole run (it also holds the embedded emulator and its S3 API): $((server_hwm / 1024)) MiB"
awk -v a="$pu_s" -v b="$bu_s" -v c="$pd_s" -v d="$bd_s" 'BEGIN { printf "\nthroughput vs boto3: upload %.2f×, download %.2f×\n", b / a, d / c }'
