#!/usr/bin/env bash
# openai provider request-rate benchmark: ouro's `generate` (memo on, a fresh
# store) against an instant-reply loopback OpenAI-compatible server
# (bench/serve/instant), compared with wrk against the same endpoint sending
# the identical request (headers and body as the server received them from
# ouro; bench/serve/instant serves them as a wrk script). Goal: ouro ≥ 50% of
# wrk's rate. For reference, wrk also runs with a minimal request
# (bench/serve/post.lua: the same body, only Content-Type and Authorization).
#
#   bench/serve/run.sh                         # from the repository root
#   REQUESTS=20000 CONCURRENCY=64 bench/serve/run.sh
#
# Installs wrk with apt-get when missing. ouro's rate is requests / wall time
# of the whole `ouro run` (start-up, reading the prompts, the memo, writing
# the dataset included), and also requests / the generate stage's duration.
set -euo pipefail

REQUESTS=${REQUESTS:-20000}
CONCURRENCY=${CONCURRENCY:-64}
WRK_SECONDS=${WRK_SECONDS:-10}
PORT=${PORT:-18099}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ouro-serve-bench.XXXXXX")
SERVER_PID=""
cleanup() {
	[ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT

if ! command -v wrk >/dev/null; then
	echo "installing wrk with apt-get …"
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y wrk >"$WORK/apt.log" 2>&1 ||
		{ DEBIAN_FRONTEND=noninteractive $sudo apt-get update >>"$WORK/apt.log" 2>&1 &&
			DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y wrk >>"$WORK/apt.log" 2>&1; } ||
		{ echo "apt-get install wrk failed:"; tail -3 "$WORK/apt.log"; exit 1; }
fi

(cd "$ROOT" && go build -o "$WORK/ouro" ./cmd/ouro && go build -o "$WORK/instant" ./bench/serve/instant &&
	go build -o "$WORK/clientloop" ./bench/serve/clientloop)
"$WORK/instant" -listen "127.0.0.1:$PORT" &
SERVER_PID=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$PORT/count" >/dev/null 2>&1 && break; sleep 0.05; done

SPEC="$WORK/spec"
mkdir -p "$SPEC"
cat >"$SPEC/main.loop.hcl" <<HCL
dataset "prompts" {
  source = "prompts.jsonl"
  schema = object({ id = number, text = string })
}

model "m" {
  provider    = "openai"
  base_url    = "http://127.0.0.1:$PORT/v1"
  name        = "instant"
  api         = "completions"
  concurrency = $CONCURRENCY
}

stage "generate" "gen" {
  model      = model.m
  input      = dataset.prompts
  prompt     = "say \${item.text}:"
  max_tokens = 8
}

output "gen" {
  value = stage.gen
}
HCL
awk -v n="$REQUESTS" 'BEGIN { for (i = 0; i < n; i++) printf "{\"id\":%d,\"text\":\"item %d\"}\n", i, i }' >"$SPEC/prompts.jsonl"

echo "== ouro run: $REQUESTS generate requests, concurrency $CONCURRENCY, fresh store =="
before=$(curl -fs "http://127.0.0.1:$PORT/count")
t0=$(date +%s%N)
"$WORK/ouro" run "$SPEC" --json --progress=none >"$WORK/run.json" || { cat "$WORK/run.json"; exit 1; }
t1=$(date +%s%N)
after=$(curl -fs "http://127.0.0.1:$PORT/count")
sent=$((after - before))
wall_ms=$(((t1 - t0) / 1000000))
stage_ms=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print([s["duration_ms"] for s in r["stages"] if s["address"]=="stage.gen"][0])' "$WORK/run.json")
ouro_rate=$((sent * 1000 / wall_ms))
stage_rate=$((sent * 1000 / (stage_ms > 0 ? stage_ms : 1)))
echo "server answered $sent requests; wall ${wall_ms} ms → ${ouro_rate} req/s; generate stage ${stage_ms} ms → ${stage_rate} req/s"

# The ceiling ladder: the same requests from bare Go loops (net/http alone,
# the official client alone, ouro's provider alone), same concurrency.
echo "== bare client loops (bench/serve/clientloop), $REQUESTS requests, concurrency $CONCURRENCY =="
for mode in nethttp openai provider; do
	"$WORK/clientloop" -url "http://127.0.0.1:$PORT/v1" -mode "$mode" -n "$REQUESTS" -c "$CONCURRENCY" | tee -a "$WORK/ladder.txt"
done

# wrk sends the very request ouro sent (headers and body, as the server
# received it), so the ratio measures the client, not a lighter request.
curl -fs "http://127.0.0.1:$PORT/last.lua" >"$WORK/same.lua"
echo "== wrk: -t2 -c$CONCURRENCY -d${WRK_SECONDS}s, the request ouro sent (same headers and body) =="
wrk -t2 -c"$CONCURRENCY" -d"${WRK_SECONDS}s" -s "$WORK/same.lua" "http://127.0.0.1:$PORT/v1/completions" | tee "$WORK/wrk.txt"
wrk_rate=$(awk '/^Requests\/sec:/ { printf "%d", $2 }' "$WORK/wrk.txt")

echo "== wrk: the same, with only the headers a minimal client needs (bench/serve/post.lua), for reference =="
wrk -t2 -c"$CONCURRENCY" -d"${WRK_SECONDS}s" -s "$ROOT/bench/serve/post.lua" "http://127.0.0.1:$PORT/v1/completions" | tee "$WORK/wrk-min.txt"
wrk_min_rate=$(awk '/^Requests\/sec:/ { printf "%d", $2 }' "$WORK/wrk-min.txt")

echo
echo "ouro generate: ${ouro_rate} req/s (whole run), ${stage_rate} req/s (generate stage)"
echo "wrk:           ${wrk_rate} req/s (same request), ${wrk_min_rate} req/s (minimal headers)"
echo "ratio:         $((ouro_rate * 100 / wrk_rate))% (whole run), $((stage_rate * 100 / wrk_rate))% (stage) of wrk with the same request; goal ≥ 50%"
echo "               $((ouro_rate * 100 / wrk_min_rate))% (whole run), $((stage_rate * 100 / wrk_min_rate))% (stage) of wrk with minimal headers"
echo "bare loops, % of wrk with the same request:"
while read -r mode _ _ rate; do
	printf '  %-9s %6d req/s  %3d%%\n' "$mode" "$rate" $((rate * 100 / wrk_rate))
done <"$WORK/ladder.txt"
