#!/bin/sh
# A first run of many small stages (issue 20, item 4): is it bound by
# the store's fsyncs? BenchmarkFirstRun (runtime) runs STAGES independent
# one-record stages, each writing a fresh dataset blob and its entry, into
# an empty store, at parallelism 1 and 2. This script runs it on BASE (the
# code before the store staged blobs and synced them by batch; the
# benchmark file of the work tree is built against it) and on the work
# tree, interleaved, ROUNDS times, with the store on disk (DISK) and on
# tmpfs (/dev/shm, where fsync costs nothing). It prints every run, then
# the medians, after/before, and disk/tmpfs: how much of a first run's
# time the fsyncs take.
# Run from anywhere inside the repository:  bench/store/firstrun.sh
# (ROUNDS=3, STAGES=10000, BASE=0d5ecb6, DISK=/var/tmp).
set -eu
cd "$(dirname "$0")/../.."
BASE=${BASE:-0d5ecb6}
ROUNDS=${ROUNDS:-3}
STAGES=${STAGES:-10000}
DISK=${DISK:-/var/tmp}
SHM=/dev/shm
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/src" "$tmp/before" "$tmp/after"
git archive "$BASE" | tar -x -C "$tmp/src"
cp runtime/bench_test.go "$tmp/src/runtime/bench_test.go"
(cd "$tmp/src" && go test -c -o "$tmp/before/runtime.test" ./runtime)
go test -c -o "$tmp/after/runtime.test" ./runtime
echo "before: $BASE; after: the work tree ($(git rev-parse --short HEAD)); $STAGES stages, $ROUNDS rounds"
df -T "$DISK" "$SHM" | awk 'NR > 1 { print "store on", $7 ": " $2 " (" $1 ")" }'
echo "load at start: $(uptime)"
for r in $(seq "$ROUNDS"); do
	order="before after"
	[ $((r % 2)) -eq 0 ] && order="after before"
	for where in disk tmpfs; do
		dir=$DISK
		[ $where = tmpfs ] && dir=$SHM
		for v in $order; do
			TMPDIR=$dir "$tmp/$v/runtime.test" -test.run '^$' -test.bench '^BenchmarkFirstRun$' \
				-test.benchtime 1x -firstrun.stages "$STAGES" |
				awk -v v="$v" -v r="$r" -v w="$where" '/stages\/s/ { sub(/-[0-9]+$/, "", $1); sub(/^BenchmarkFirstRun\//, "", $1); print r, v, w, $1, $(NF-1) }' |
				tee -a "$tmp/results"
		done
	done
done
echo "load at end: $(uptime)"
python3 - "$tmp/results" <<'PYEOF'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    _, v, where, p, rate = line.split()
    runs.setdefault((v, where, p), []).append(float(rate))
med = {k: statistics.median(r) for k, r in runs.items()}
print(f"{'median stages/s':16} {'before':>8} {'after':>8} {'after/before':>13}")
for where in ("disk", "tmpfs"):
    for p in ("p=1", "p=2"):
        b, a = med[("before", where, p)], med[("after", where, p)]
        print(f"{where + ' ' + p:16} {b:8.0f} {a:8.0f} {a / b:12.2f}x")
for v in ("before", "after"):
    for p in ("p=1", "p=2"):
        print(f"disk/tmpfs, {v} {p}: {med[(v, 'disk', p)] / med[(v, 'tmpfs', p)]:.2f}")
PYEOF
