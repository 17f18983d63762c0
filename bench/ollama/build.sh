#!/usr/bin/env bash
# Builds Ollama v0.17.4 from the Go module proxy into
# ${OURO_OLLAMA_CACHE:-~/.cache/ouro-ollama}/bin/ollama, once (a few minutes
# cold; later calls return at once). Used by export_check.sh and circle.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
CACHE=${OURO_OLLAMA_CACHE:-$HOME/.cache/ouro-ollama}
OLLAMA=$CACHE/bin/ollama

if [ ! -x "$OLLAMA" ]; then
  if ! dpkg -s nlohmann-json3-dev libstb-dev >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq nlohmann-json3-dev libstb-dev
  fi
  # Go module zips leave out vendor/ folders, so llama.cpp's vendored
  # miniaudio is missing; a stub that fails every audio decode stands in.
  mkdir -p "$CACHE/inc/miniaudio" "$CACHE/bin"
  cp bench/ollama/miniaudio_stub.h "$CACHE/inc/miniaudio/miniaudio.h"
  echo "building ollama v0.17.4 (a few minutes)..." >&2
  start=$(date +%s)
  (cd /tmp && CGO_CPPFLAGS="-I$CACHE/inc -I/usr/include/stb" GOBIN="$CACHE/bin" \
    go install github.com/ollama/ollama@v0.17.4)
  echo "built in $(( $(date +%s) - start ))s" >&2
fi

