#!/usr/bin/env bash
# Peak memory of `ouro run` over a large JSONL file: generates ~2 GB of
# records (about 1 KB each) in a temporary directory, runs a spec with a
# `dataset` (declared schema) and a `filter` over it, and reports the peak
# resident set size from GNU time (-v). Everything is removed afterwards.
# Usage: bench/ops/memory.sh [megabytes]   (default 2048)
set -euo pipefail
MB=${1:-2048}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
[ -x /usr/bin/time ] || { apt-get install -y time >/dev/null 2>&1 || sudo apt-get install -y time >/dev/null; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cd "$ROOT"
go build -o "$W/ouro" ./cmd/ouro

# ~1,000-byte records: N = MB * 1e6 / 1000.
N=$((MB * 1000))
echo "generating $N records (~${MB} MB)..."
awk -v n="$N" 'BEGIN { srand(1); pad = sprintf("%900s", ""); gsub(/ /, "lorem ", pad); pad = substr(pad, 1, 900);
  for (i = 0; i < n; i++) printf "{\"id\":%d,\"text\":\"%d %s\",\"score\":%.6f,\"label\":\"%s\"}\n", i, i, pad, rand(), (i % 3 == 0 ? "a" : "b") }' > "$W/in.jsonl"
ls -l "$W/in.jsonl" | awk '{ printf "input: %.0f MB\n", $5 / 1e6 }'

cat > "$W/mem.loop.hcl" <<'HCL'
dataset "in" {
  source = "in.jsonl"
  schema = object({ id = number, text = string, score = number, label = string })
}
stage "filter" "f" {
  input = dataset.in
  where = item.score > 0.5
}
HCL

uptime
( cd "$W" && /usr/bin/time -v ./ouro run --progress plain --store "$W/store" mem.loop.hcl ) > "$W/run.log" 2> "$W/time.log" || { cat "$W/run.log" "$W/time.log"; exit 1; }
grep -hE "(stage|dataset)\.[a-z]+ .*(ran|failed)" "$W/run.log" "$W/time.log" || true
grep -E "Maximum resident set size|Elapsed \(wall clock\)|User time|System time" "$W/time.log"
awk '/Maximum resident set size/ { printf "peak RSS: %.0f MB\n", $6 / 1024 }' "$W/time.log"
du -sh "$W/store" | awk '{ print "store: " $1 }'
