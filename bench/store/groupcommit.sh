#!/bin/sh
# Group commit of stage entries (issue 20, item 4): BenchmarkPutStage
# (runtime/store) and BenchmarkFirstRun (runtime) on BASE, the benchmarks
# on the code before group commit, and on the work tree, interleaved
# benchmark by benchmark, ROUNDS times. Prints every run, then
# per benchmark the median stages/s before and after and their ratio.
# Run from anywhere inside the repository:  bench/store/groupcommit.sh
# (ROUNDS=5, N=1000 PutStage calls per benchmark run, BASE=<commit>).
set -eu
cd "$(dirname "$0")/../.."
BASE=${BASE:-2ebb50f}
ROUNDS=${ROUNDS:-3}
N=${N:-1000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/src" "$tmp/before" "$tmp/after"
git archive "$BASE" | tar -x -C "$tmp/src"
(cd "$tmp/src" && go test -c -o "$tmp/before/store.test" ./runtime/store && go test -c -o "$tmp/before/runtime.test" ./runtime)
go test -c -o "$tmp/after/store.test" ./runtime/store
go test -c -o "$tmp/after/runtime.test" ./runtime
echo "before: $BASE; after: the work tree ($(git rev-parse --short HEAD)); $ROUNDS rounds"
echo "load at start: $(uptime)"
# Each benchmark runs on its own, before and after in turn (which goes
# first alternates by round), so both see nearly the same load.
benches="PutStage/fresh-blob/j=1 PutStage/fresh-blob/j=2 PutStage/fresh-blob/j=8
PutStage/entry-only/j=1 PutStage/entry-only/j=2 PutStage/entry-only/j=8
FirstRun/p=1 FirstRun/p=2"
for r in $(seq "$ROUNDS"); do
	order="before after"
	[ $((r % 2)) -eq 0 ] && order="after before"
	for b in $benches; do
		for v in $order; do
			case $b in
			PutStage/*) run="$tmp/$v/store.test -test.benchtime ${N}x" ;;
			FirstRun/*) run="$tmp/$v/runtime.test -test.benchtime 2x" ;;
			esac
			pattern="^Benchmark$(echo "$b" | sed 's|/|$/^|g')\$"
			$run -test.run '^$' -test.bench "$pattern" |
				awk -v v="$v" -v r="$r" '/stages\/s/ { sub(/-[0-9]+$/, "", $1); print r, v, $1, $(NF-1) }' | tee -a "$tmp/results"
		done
	done
done
echo "load at end: $(uptime)"
python3 - "$tmp/results" <<'PYEOF'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    _, v, name, rate = line.split()
    runs.setdefault(name, {}).setdefault(v, []).append(float(rate))
print(f"{'benchmark':40} {'before':>9} {'after':>9} {'ratio':>6}   (median stages/s)")
for name, r in runs.items():
    b, a = statistics.median(r["before"]), statistics.median(r["after"])
    print(f"{name:40} {b:9.0f} {a:9.0f} {a / b:5.2f}x")
PYEOF
