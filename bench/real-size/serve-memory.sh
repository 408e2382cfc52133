#!/bin/bash
# Resident memory and time to first token of `osd serve` at a real size (docs/engine.md, "Real sizes"):
# VmRSS when ready, one 512-token prompt alone (TTFT: non-streamed, 1 token), then 4 concurrent 512-token
# prompts of 16 tokens each with VmRSS sampled every 0.3 s. Prompts are random token ids, EOS ignored.
#   flock /tmp/osd-cpu.lock bench/real-size/serve-memory.sh MODEL DRAFT [extra osd serve flags, e.g. --no-speculation]
set -euo pipefail
MODEL=$1 DRAFT=$2; shift 2
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PORT=${PORT:-8199}
WORK=$(mktemp -d)
trap 'kill $MON $SP 2>/dev/null || true; rm -rf "$WORK"' EXIT
prompt() { # $1 seed, $2 max_tokens
  python3 -c "import json,random,sys; r=random.Random($1); print(json.dumps({'prompt': [1] + [r.randrange(3, 32000)
    for _ in range(511)], 'max_tokens': $2, 'temperature': 0, 'ignore_eos': True}))"
}
"$ROOT/osd" serve --model "$MODEL" --draft "$DRAFT" --no-training --port "$PORT" "$@" > "$WORK/serve.log" 2>&1 &
SP=$!
START=$(date +%s.%N)
until curl -sf "http://127.0.0.1:$PORT/health/ready" > /dev/null; do
  kill -0 $SP 2> /dev/null || { cat "$WORK/serve.log"; exit 1; }
  sleep 0.5
done
echo "ready after $(echo "$(date +%s.%N) - $START" | bc) s, $(grep VmRSS /proc/$SP/status)"
prompt 1 1 > "$WORK/one.json"
curl -s -o /dev/null -w "one 512-token prompt, 1 token: HTTP %{http_code} in %{time_total} s\n" -m 900 \
  -H 'Content-Type: application/json' -d @"$WORK/one.json" "http://127.0.0.1:$PORT/v1/completions"
( while kill -0 $SP 2> /dev/null; do awk '/VmRSS/ {print $2}' /proc/$SP/status; sleep 0.3; done ) > "$WORK/rss" &
MON=$!
CURLS=()
for i in 0 1 2 3; do
  prompt $((20 + i)) 16 > "$WORK/p$i.json"
  curl -s -o /dev/null -w "request $i of 4: HTTP %{http_code} in %{time_total} s\n" -m 1800 \
    -H 'Content-Type: application/json' -d @"$WORK/p$i.json" "http://127.0.0.1:$PORT/v1/completions" &
  CURLS+=($!)
done
wait "${CURLS[@]}"
echo "peak VmRSS while 4 x 512 ran: $(sort -n "$WORK/rss" | tail -1) kB"
curl -s "http://127.0.0.1:$PORT/metrics" | grep '^osd_kv_cache_blocks{model="target"' || true
