#!/usr/bin/env bash
# filter + map over 1,000,000 JSONL records: ouro (dataset → filter → map →
# export JSONL, through `ouro run`) against Debian jq doing the same
# select+projection, in one run. Then the Go benchmarks for exact dedupe and
# MinHash (BenchmarkDedupeMinhashPlanted also prints recall and precision on
# a planted-duplicates set). Usage: bench/ops/compare.sh [records]
set -euo pipefail
N=${1:-1000000}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
command -v jq >/dev/null || { apt-get install -y jq >/dev/null 2>&1 || sudo apt-get install -y jq >/dev/null; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cd "$ROOT"
go build -o "$W/ouro" ./cmd/ouro

echo "generating $N records..."
awk -v n="$N" 'BEGIN { srand(1); split("a b c", L, " ");
  for (i = 0; i < n; i++) printf "{\"id\":%d,\"text\":\"sample text number %d about topic %d\",\"score\":%.6f,\"label\":\"%s\"}\n", i, i, i % 97, rand(), L[i % 3 + 1] }' > "$W/in.jsonl"
ls -l "$W/in.jsonl" | awk '{ printf "input: %.0f MB\n", $5 / 1e6 }'

cat > "$W/fm.loop.hcl" <<'HCL'
dataset "in" {
  source = "in.jsonl"
  schema = object({ id = number, text = string, score = number, label = string })
}
stage "filter" "f" {
  input = dataset.in
  where = item.score > 0.5
}
stage "map" "m" {
  input  = stage.f
  fields = { label = upper(item.label) }
  drop   = ["score"]
}
stage "export" "out" {
  input = stage.m
  path  = "out.jsonl"
}
HCL

t() { local s e; s=$(date +%s.%N); "$@"; e=$(date +%s.%N); echo "$e - $s" | bc; }
JQ=$(t sh -c "jq -c 'select(.score > 0.5) | {id, text, label: (.label | ascii_upcase)}' '$W/in.jsonl' > '$W/jq.jsonl'")
OURO=$(t sh -c "cd '$W' && ./ouro run --progress plain --store '$W/store' fm.loop.hcl > '$W/run.log' 2>&1")
echo "jq:   $(wc -l < "$W/jq.jsonl") records out in ${JQ}s  ($(echo "$N / $JQ" | bc) records/s)"
echo "ouro: $(wc -l < "$W/out.jsonl") records out in ${OURO}s  ($(echo "$N / $OURO" | bc) records/s)"
echo "ouro/jq throughput: $(echo "scale=2; $JQ / $OURO" | bc)x"
grep -E "(stage|dataset)\.(f|m|in|out) .*ran" "$W/run.log" || true

echo
[ -n "${SKIP_GO_BENCH:-}" ] || go test -run '^$' -bench 'DedupeExact|DedupeMinhash|Filter|Map|DatasetJSONL' -benchtime 2x ./bench/ops/
