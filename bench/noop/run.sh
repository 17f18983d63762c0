#!/usr/bin/env bash
# No-op re-run benchmark (issue 3): ouro vs Snakemake on a generated
# 1,000-stage workflow with everything already up to date.
#
#   bench/noop/run.sh            # from the repository root
#   STAGES=1000 RUNS=10 bench/noop/run.sh
#
# Installs snakemake (and hyperfine) with apt-get when missing; if that fails
# it says so and still measures ouro. Times are wall-clock per process,
# including start-up, measured with hyperfine when available, else a loop
# over `date +%s%N`.
set -euo pipefail

STAGES=${STAGES:-1000}
RUNS=${RUNS:-10}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ouro-noop.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

apt_install() { # package...
	local sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y "$@" >"$WORK/apt.log" 2>&1 ||
		{ DEBIAN_FRONTEND=noninteractive $sudo apt-get update >>"$WORK/apt.log" 2>&1 &&
			DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y "$@" >>"$WORK/apt.log" 2>&1; }
}

if ! command -v snakemake >/dev/null; then
	echo "installing snakemake with apt-get …"
	apt_install snakemake || { echo "WARNING: apt-get install snakemake failed; measuring ouro only"; tail -3 "$WORK/apt.log"; }
fi
if ! command -v hyperfine >/dev/null; then
	apt_install hyperfine || echo "hyperfine not available; timing with a date loop"
fi
HAVE_SNAKEMAKE=0
command -v snakemake >/dev/null && HAVE_SNAKEMAKE=1

echo "building ouro …"
(cd "$ROOT" && go build -o "$WORK/bin/ouro" ./cmd/ouro && go run ./bench/noop/gen -dir "$WORK" -stages "$STAGES")
OURO="$WORK/bin/ouro"

# time_cmd NAME DIR CMD... : prints the mean / min / max wall time in ms of RUNS runs.
declare -A MEAN
time_cmd() {
	local name=$1 dir=$2
	shift 2
	if command -v hyperfine >/dev/null; then
		(cd "$dir" && hyperfine -N --warmup 2 --runs "$RUNS" --export-json "$WORK/$name.json" \
			--command-name "$name" "$*" >/dev/null)
		MEAN[$name]=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print("%.1f %.1f %.1f %.1f" % (r["mean"]*1e3, r["stddev"]*1e3, r["min"]*1e3, r["max"]*1e3))' "$WORK/$name.json")
	else
		local t0 t1 all=()
		(cd "$dir" && "$@" >/dev/null 2>&1) # warm-up
		for _ in $(seq "$RUNS"); do
			t0=$(date +%s%N)
			(cd "$dir" && "$@" >/dev/null 2>&1)
			t1=$(date +%s%N)
			all+=($(((t1 - t0) / 1000)))
		done
		MEAN[$name]=$(printf '%s\n' "${all[@]}" | awk '{s+=$1; q+=$1*$1; if(NR==1||$1<mn)mn=$1; if($1>mx)mx=$1} END{m=s/NR; v=q/NR-m*m; if(v<0)v=0; printf "%.1f %.1f %.1f %.1f", m/1e3, sqrt(v)/1e3, mn/1e3, mx/1e3}')
	fi
	read -r m sd mn mx <<<"${MEAN[$name]}"
	printf '%-22s mean %8.1f ms  ± %6.1f  (min %.1f, max %.1f, %d runs)\n' "$name" "$m" "$sd" "$mn" "$mx" "$RUNS"
}

echo "first runs (bringing everything up to date) …"
t0=$(date +%s%N)
(cd "$WORK/ouro" && "$OURO" run --progress none . | grep '^Run')
echo "  ouro first run: $((($(date +%s%N) - t0) / 1000000)) ms"
(cd "$WORK/ouro" && "$OURO" run --progress none . | grep " 0 ran, $STAGES cached" >/dev/null) ||
	{ echo "ERROR: ouro re-run is not fully cached"; exit 1; }
if [ $HAVE_SNAKEMAKE = 1 ]; then
	t0=$(date +%s%N)
	(cd "$WORK/snakemake" && snakemake --cores 2 --quiet >/dev/null 2>&1)
	echo "  snakemake first run: $((($(date +%s%N) - t0) / 1000000)) ms"
	(cd "$WORK/snakemake" && snakemake --cores 2 2>&1 | grep "Nothing to be done" >/dev/null) ||
		{ echo "ERROR: snakemake re-run is not a no-op"; exit 1; }
fi

echo
echo "no-op re-runs ($STAGES stages, $(nproc) cores, $(go version | awk '{print $3}')):"
time_cmd "ouro validate" "$WORK/ouro" "$OURO" validate .
time_cmd "ouro run (no-op)" "$WORK/ouro" "$OURO" run --progress none .
(cd "$WORK/ouro" && "$OURO" run --progress none . | grep '^Run' | sed 's/^/  last ouro run, internal: /')
if [ $HAVE_SNAKEMAKE = 1 ]; then
	time_cmd "snakemake (no-op)" "$WORK/snakemake" snakemake --cores 2 --quiet
	read -r o _ <<<"${MEAN[ouro run (no-op)]}"
	read -r s _ <<<"${MEAN[snakemake (no-op)]}"
	echo
	awk -v o="$o" -v s="$s" 'BEGIN{printf "ratio snakemake / ouro: %.1fx (goal >= 50x); ouro %.1f ms (goal <= 100 ms)\n", s/o, o}'
	echo "snakemake $(snakemake --version)"
else
	echo "snakemake not installed: no ratio"
fi
