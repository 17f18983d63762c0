#!/usr/bin/env bash
# Structured output against a real server (issue 17 item 2): a generate
# stage with `schema` is answered by the builtin provider and by Ollama
# serving a GGUF export of the same checkpoint, through the openai
# provider's chat and completions endpoints (bench/ollama/structured).
#
#   bash bench/ollama/structured_check.sh
#
# The checkpoint (ollamacheck train -json) has learnt to answer "json
# WORD" with the document; the other prompts are text it never saw.
# Prints, per prompt, the three completions; then per endpoint how many
# responses are documents of the schema and how many equal the builtin
# provider's. Exits non-zero unless the chat endpoint (where Ollama takes
# response_format) gives the builtin provider's document for every json
# prompt.
# Environment: OURO_OLLAMA_CACHE, PORT (default 11481), MAX_TOKENS (default
# 40). See
# bench/ollama/README.md for what it printed.
set -euo pipefail
cd "$(dirname "$0")/../.."
PORT=${PORT:-11481}
bash bench/ollama/build.sh
OLLAMA=${OURO_OLLAMA_CACHE:-$HOME/.cache/ouro-ollama}/bin/ollama

W=$(mktemp -d)
cleanup() {
  [ -n "${KEEP_LOG:-}" ] && cp "$W/ollama.log" "$KEEP_LOG"
  if [ -n "${OLLAMA_PID:-}" ]; then kill "$OLLAMA_PID" 2>/dev/null || true; wait "$OLLAMA_PID" 2>/dev/null || true; fi
  rm -rf "$W"
}
trap cleanup EXIT

go build -o "$W/ouro" ./cmd/ouro
go build -o "$W/ollamacheck" ./bench/ollama/ollamacheck
# The checkpoint also learns the json task (prompts.jsonl's first 16
# prompts), so its greedy answers are documents without any constraint.
"$W/ollamacheck" train -json -steps 1500 -o "$W/model.safetensors"
"$W/ouro" export "$W/model.safetensors" --format gguf -o "$W/model.gguf" >/dev/null

mkdir -p "$W/models" "$W/home" "$W/out"
export OLLAMA_HOST=127.0.0.1:$PORT OLLAMA_MODELS=$W/models
OLLAMA_FLASH_ATTENTION=${OLLAMA_FLASH_ATTENTION:-0} HOME=$W/home "$OLLAMA" serve >"$W/ollama.log" 2>&1 &
OLLAMA_PID=$!
for _ in $(seq 50); do curl -fsS "http://$OLLAMA_HOST/api/version" >/dev/null 2>&1 && break; sleep 0.2; done
# As in circle.sh: the prompt as it is, and no repeat penalty (Ollama
# applies one by default, even to greedy decoding).
printf 'FROM %s\nTEMPLATE {{ .Prompt }}\nPARAMETER repeat_penalty 1\nPARAMETER repeat_last_n 0\n' "$W/model.gguf" >"$W/Modelfile"
HOME=$W/home "$OLLAMA" create ouro-structured -f "$W/Modelfile" >"$W/create.log" 2>&1 || { cat "$W/create.log"; exit 1; }

cp -r bench/ollama/structured "$W/spec"
"$W/ouro" run "$W/spec" --store "$W/store" --progress=none \
  -var "checkpoint=$W/model.safetensors" -var "base_url=http://$OLLAMA_HOST/v1" \
  -var model=ouro-structured -var "out=$W/out" -var "max_tokens=${MAX_TOKENS:-40}" >"$W/run.txt" 2>&1 || { cat "$W/run.txt"; tail -n 40 "$W/ollama.log"; exit 1; }
"$W/ouro" show latest --store "$W/store" >"$W/show.txt"
grep -iE 'invalid|warn|schema' "$W/show.txt" "$W/run.txt" || true

python3 - "$W/out" <<'PY'
import json, sys
out = sys.argv[1]
cols = ["local", "chat", "completions"]
recs = {c: [json.loads(l) for l in open(f"{out}/{c}.jsonl")] for c in cols}
n = len(recs["local"])
valid = {c: 0 for c in cols}
same = {c: 0 for c in cols}
for i in range(n):
    print(f"{i:2} prompt={recs['local'][i]['prompt']!r}")
    for c in cols:
        r = recs[c][i]
        ok = r.get("parsed") is not None
        valid[c] += ok
        eq = r["completion"] == recs["local"][i]["completion"]
        same[c] += eq
        print(f"   {c:12} {'valid' if ok else 'INVALID':8} {'same' if eq else 'differs':8} {r['completion']!r}")
for c in cols:
    print(f"{c:12} {valid[c]:2} of {n} documents of the schema, {same[c]:2} of {n} equal to the builtin provider's")
# The prompts of the task the checkpoint learnt: the chat endpoint must
# give the builtin provider's documents exactly.
task = [i for i in range(n) if recs["local"][i]["prompt"].startswith("json ")]
equal = sum(recs["chat"][i]["completion"] == recs["local"][i]["completion"] for i in task)
print(f"json task: chat equal to the builtin provider on {equal} of {len(task)} prompts")
sys.exit(0 if equal == len(task) else 1)
PY
