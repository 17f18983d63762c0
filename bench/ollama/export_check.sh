#!/usr/bin/env bash
# End-to-end check of `ouro export --format gguf` against a real server:
# builds Ollama v0.17.4 from the Go module proxy (cached), trains a small
# builtin checkpoint, exports it to GGUF, serves it with `ollama serve` on a
# loopback port, and compares greedy completions of 20 prompts with the
# builtin sampler's. Exits non-zero when any completion differs.
#
#   bash bench/ollama/export_check.sh            # llama.cpp runner (Ollama's default for llama)
#   OLLAMA_NEW_ENGINE=1 bash bench/ollama/export_check.sh   # Ollama's Go engine and tokenizer
#
# Environment: OURO_OLLAMA_CACHE (default ~/.cache/ouro-ollama) holds the
# Ollama binary; PORT (default 11477). Needs apt-get (Debian) the first time.
# See bench/ollama/README.md for what it printed.
set -euo pipefail
cd "$(dirname "$0")/../.."
CACHE=${OURO_OLLAMA_CACHE:-$HOME/.cache/ouro-ollama}
PORT=${PORT:-11477}
OLLAMA=$CACHE/bin/ollama

bash bench/ollama/build.sh

W=$(mktemp -d)
cleanup() {
  if [ -n "${SERVE_PID:-}" ]; then kill "$SERVE_PID" 2>/dev/null || true; wait "$SERVE_PID" 2>/dev/null || true; fi
  rm -rf "$W"
}
trap cleanup EXIT

go build -o "$W/ouro" ./cmd/ouro
go build -o "$W/ollamacheck" ./bench/ollama/ollamacheck
"$W/ollamacheck" train -o "$W/model.safetensors"
"$W/ouro" export "$W/model.safetensors" --format gguf -o "$W/model.gguf"

mkdir -p "$W/models" "$W/home"
export OLLAMA_HOST=127.0.0.1:$PORT OLLAMA_MODELS=$W/models HOME=$W/home
"$OLLAMA" serve >"$W/serve.log" 2>&1 &
SERVE_PID=$!
for _ in $(seq 50); do
  curl -fsS "http://$OLLAMA_HOST/api/version" >/dev/null 2>&1 && break
  sleep 0.2
done
# No chat template: the prompt goes to the model as it is (the check also
# sends raw = true).
printf 'FROM %s\nTEMPLATE {{ .Prompt }}\n' "$W/model.gguf" >"$W/Modelfile"
"$OLLAMA" create ouro-export -f "$W/Modelfile" >"$W/create.log" 2>&1 || { cat "$W/create.log"; exit 1; }
status=0
"$W/ollamacheck" compare -checkpoint "$W/model.safetensors" -url "http://$OLLAMA_HOST" -model ouro-export -n 21 -max-tokens 24 || status=1
# A short budget, so completions also end by length.
"$W/ollamacheck" compare -checkpoint "$W/model.safetensors" -url "http://$OLLAMA_HOST" -model ouro-export -n 21 -max-tokens 4 | tail -1 || status=1
# Which runner served the model: llama.cpp's (llama_model_loader lines) or
# Ollama's Go engine.
if grep -q 'llama_model_loader' "$W/serve.log"; then echo "runner: llama.cpp (compatibility)"; else echo "runner: ollama engine"; fi
grep 'starting runner' "$W/serve.log" | tail -1 | sed 's/.*cmd=/runner command: /' || true
[ -n "${KEEP_LOG:-}" ] && cp "$W/serve.log" "$KEEP_LOG"
exit $status
