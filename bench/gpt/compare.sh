#!/bin/sh
# Builtin model (stdlib/models/gpt) vs the identical architecture in PyTorch
# on CPU: training and sampling tokens/s at 1 thread and at all cores.
# Run from anywhere inside the repository:  bench/gpt/compare.sh
#
# The anchor is Debian's python3-torch 1.13 computing with OpenBLAS
# (libopenblas0-pthread; Debian points libblas.so.3 at it through the
# alternatives system). Debian's torch is built with BLAS_INFO=generic, so
# whatever libblas.so.3 resolves to does its matrix products; the reference
# BLAS column runs the same torch with LD_LIBRARY_PATH at Debian's reference
# BLAS (/usr/lib/x86_64-linux-gnu/blas), the weak anchor of earlier
# measurements, kept for comparison. Before timing, the script prints which
# libblas.so.3 each column loads and its 1024×1024 matmul rate at 1 thread.
# The machine's OPENBLAS_* variables are left as they are; thread counts
# are set with OMP_NUM_THREADS (which OpenBLAS honours) and
# torch.set_num_threads.
#
# Needs root for apt (python3-torch, libopenblas0-pthread); uses Debian's own
# /usr/bin/python3, the only interpreter that sees that package.
set -eu
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
if ! $PY -c 'import torch' 2>/dev/null; then
	apt-get install -y python3-torch >/dev/null
fi
if [ ! -e /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3 ]; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y libopenblas0-pthread >/dev/null
fi
# The reference column needs Netlib's reference BLAS (libblas3): without
# it /usr/lib/x86_64-linux-gnu/blas does not exist and that column would load
# OpenBLAS through the alternatives link again.
if [ ! -e /usr/lib/x86_64-linux-gnu/blas/libblas.so.3 ]; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y libblas3 >/dev/null
fi
REF_BLAS=/usr/lib/x86_64-linux-gnu/blas
STEPS=${STEPS:-20}
CORES=$(nproc)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/ourobench" ./bench/gpt/ourobench

blas_check() { # label, then environment assignments
	label=$1
	shift
	env "$@" OMP_NUM_THREADS=1 $PY - "$label" <<'PYEOF'
import sys, time, torch
torch.set_num_threads(1)
libs = sorted({l.split()[-1] for l in open("/proc/self/maps") if "libblas" in l or "openblas" in l})
a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
for _ in range(2):
    a @ b
n, t = 10, time.perf_counter()
for _ in range(n):
    a @ b
dt = (time.perf_counter() - t) / n
print(f"{sys.argv[1]:10} {2 * 1024**3 / dt / 1e9:6.1f} GFLOP/s (1024x1024 matmul, 1 thread)  {' '.join(libs)}")
PYEOF
}

torch_run() { # threads, then environment assignments
	th=$1
	shift
	env "$@" OMP_NUM_THREADS="$th" $PY bench/gpt/torch_bench.py --dir "$tmp" --threads "$th" --steps "$STEPS" --batch "$batch" --samples "$samples"
}

run() { # name, then model flags
	name=$1
	shift
	batch=$(echo "$@" | sed -n 's/.*-batch \([0-9]*\).*/\1/p')
	samples=$(echo "$@" | sed -n 's/.*-samples \([0-9]*\).*/\1/p')
	"$tmp/ourobench" "$@" -steps "$STEPS" -out "$tmp" >/dev/null # writes the checkpoint + reference
	o1=$(GOMAXPROCS=1 "$tmp/ourobench" "$@" -steps "$STEPS")
	t1=$(torch_run 1)
	r1=$(torch_run 1 LD_LIBRARY_PATH="$REF_BLAS")
	on=$(GOMAXPROCS="$CORES" "$tmp/ourobench" "$@" -steps "$STEPS")
	tn=$(torch_run "$CORES")
	$PY - "$name" "$CORES" "$o1" "$t1" "$r1" "$on" "$tn" <<'PYEOF'
import json, sys
name, cores = sys.argv[1], sys.argv[2]
o1, t1, r1, on, tn = map(json.loads, sys.argv[3:])
print(f"== {name}: {o1['params']} params; torch log-probs match ouro to {max(t1['logprob_maxdiff'], r1['logprob_maxdiff']):.1e}")
print(f"{'':34}{'train tok/s':>12}{'sample tok/s':>14}")
rows = ((f"torch OpenBLAS 1 thread", t1), (f"torch reference BLAS 1 thread", r1), ("ouro 1 thread", o1),
        (f"torch OpenBLAS {cores} threads", tn), (f"ouro {cores} threads", on))
for label, r in rows:
    print(f"{label:34}{r['train_tokens_per_s']:12.0f}{r['sample_tokens_per_s']:14.0f}")
for label, o, t in (("1 thread", o1, t1), (f"{cores} threads", on, tn)):
    print(f"ouro/torch-OpenBLAS time, {label}: train {t['train_tokens_per_s']/o['train_tokens_per_s']:.2f}x, "
          f"sample {t['sample_tokens_per_s']/o['sample_tokens_per_s']:.2f}x (< 1: ouro is faster)")
PYEOF
}

lscpu | sed -n 's/^Model name: *//p'
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "libblas.so.3 -> $(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3)"
blas_check OpenBLAS
blas_check reference LD_LIBRARY_PATH="$REF_BLAS"
run "small (2 layers, dim 64, seq 16, batch 32)" -layers 2 -dim 64 -heads 4 -hidden 128 -seq 16 -batch 32 -samples 32
run "medium (4 layers, dim 128, seq 64, batch 16)" -layers 4 -dim 128 -heads 4 -hidden 344 -seq 64 -batch 16 -samples 16
run "large (6 layers, dim 256, seq 128, batch 8)" -layers 6 -dim 256 -heads 8 -hidden 688 -seq 128 -batch 8 -samples 8
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
