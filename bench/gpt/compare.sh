#!/bin/sh
# Builtin model (stdlib/models/gpt) vs the identical architecture in PyTorch
# on CPU: training and sampling tokens/s at 1 thread each, plus ouro on all
# cores. Run from anywhere inside the repository:  bench/gpt/compare.sh
# Needs root for apt (Debian python3-torch 1.13); uses Debian's own
# /usr/bin/python3, the only interpreter that sees that package.
set -eu
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
if ! $PY -c 'import torch' 2>/dev/null; then
	apt-get install -y python3-torch >/dev/null
fi
STEPS=${STEPS:-20}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/ourobench" ./bench/gpt/ourobench

run() { # name, then model flags
	name=$1
	shift
	"$tmp/ourobench" "$@" -steps "$STEPS" -out "$tmp" >/dev/null # writes the checkpoint + reference
	o1=$(GOMAXPROCS=1 "$tmp/ourobench" "$@" -steps "$STEPS")
	on=$("$tmp/ourobench" "$@" -steps "$STEPS")
	t1=$(OMP_NUM_THREADS=1 $PY bench/gpt/torch_bench.py --dir "$tmp" --threads 1 --steps "$STEPS" \
		--batch "$(echo "$@" | sed -n 's/.*-batch \([0-9]*\).*/\1/p')" \
		--samples "$(echo "$@" | sed -n 's/.*-samples \([0-9]*\).*/\1/p')")
	$PY - "$name" "$o1" "$on" "$t1" <<'PYEOF'
import json, sys
name, o1, on, t1 = sys.argv[1], *map(json.loads, sys.argv[2:])
print(f"== {name}: {o1['params']} params; torch log-probs match ouro to {t1['logprob_maxdiff']:.1e}")
print(f"{'':28}{'train tok/s':>12}{'sample tok/s':>14}")
for label, r in ((f"torch {t1['impl'][6:]} 1 thread", t1), ("ouro 1 thread", o1), (f"ouro {on['threads']} threads", on)):
    print(f"{label:28}{r['train_tokens_per_s']:12.0f}{r['sample_tokens_per_s']:14.0f}")
print(f"ouro/torch time ratio at 1 thread: train {t1['train_tokens_per_s']/o1['train_tokens_per_s']:.2f}x, "
      f"sample {t1['sample_tokens_per_s']/o1['sample_tokens_per_s']:.2f}x (< 1 means ouro is faster)")
PYEOF
}

lscpu | sed -n 's/^Model name: *//p'
run "small (2 layers, dim 64, seq 16, batch 32)" -layers 2 -dim 64 -heads 4 -hidden 128 -seq 16 -batch 32 -samples 32
run "medium (4 layers, dim 128, seq 64, batch 16)" -layers 4 -dim 128 -heads 4 -hidden 344 -seq 64 -batch 16 -samples 16
run "large (6 layers, dim 256, seq 128, batch 8)" -layers 6 -dim 256 -heads 8 -hidden 688 -seq 128 -batch 8 -samples 8
