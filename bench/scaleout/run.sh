#!/usr/bin/env bash
# Scale-out benchmarks (issue 14): ouro run --executor temporal on an
# in-process Temporal server (temporaltest, server v1.32.1) with real
# `ouro worker` subprocesses and file:// blobs, against a local run of the
# same spec in the same script.
#
#   bench/scaleout/run.sh            # from the repository root
#   COUNT=3 bench/scaleout/run.sh    # repeat each benchmark
#
# Prints, per benchmark, the Go benchmark line and the ratio to its goal:
#   BenchmarkDispatch         40 chained command stages: ms a distributed
#                             run adds per stage over a local run (goal ≤ 20),
#                             each stage a standalone activity (the default)
#                             and a one-activity workflow (the fallback)
#   BenchmarkSleepStages      200 `sleep 0.5` stages on 2 workers × 4 slots:
#                             wall time over the ideal 12.5 s (goal ≤ 1.15)
#   BenchmarkGenerateWorkers  4 generate stages × 10,000 requests against an
#                             instant loopback server: requests/s locally,
#                             on 1 worker and on 2 workers
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
COUNT=${COUNT:-1}
OUT=$(mktemp "${TMPDIR:-/tmp}/ouro-scaleout.XXXXXX")
trap 'rm -f "$OUT"' EXIT

echo "machine: $(nproc) cores; $(uptime)"
go test ./cmd/ouro/scaleouttest -run '^$' -bench . -benchtime 1x -count "$COUNT" -timeout 60m | tee "$OUT"
echo "after: $(uptime)"
echo
awk '
/^BenchmarkDispatch/ { split($1, p, "/"); sub(/-[0-9]+$/, "", p[2]); for (i = 1; i < NF; i++) if ($(i+1) == "overhead-ms/stage") printf "dispatch overhead (%s per stage): %.1f ms/stage = %.2f× the 20 ms goal\n", p[2], $i, $i / 20 }
/^BenchmarkSleepStages/ { for (i = 1; i < NF; i++) { if ($(i+1) == "wall-s") w = $i; if ($(i+1) == "x-ideal") printf "200 sleep stages: %.2f s = %.3f× the ideal 12.5 s (goal ≤ 1.15×)\n", w, $i } }
/^BenchmarkGenerateWorkers/ { split($1, p, "/"); sub(/-[0-9]+$/, "", p[2]); for (i = 1; i < NF; i++) if ($(i+1) == "requests/s") { r[p[2]] = $i; printf "generate %s: %.0f requests/s\n", p[2], $i } }
END { if (r["local"] > 0 && r["workers=1"] > 0) printf "generate: 1 worker = %.2f× local, 2 workers = %.2f× 1 worker\n", r["workers=1"] / r["local"], r["workers=2"] / r["workers=1"] }
' "$OUT"
