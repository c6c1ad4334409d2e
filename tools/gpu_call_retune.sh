#!/usr/bin/env bash
# Short device call (two GPUs): re-tune the given ops with `--gpus all`, then
# bench the first of them at 16384 tokens with the new configs.
# usage: bash tools/gpu_call_retune.sh OP [OP ...]
set -u
source tools/gpu_env.sh 1.5.0 || exit 1
t0=$(date +%s)
timeout 150 helion-ops autotune "$@" --effort sweep --shapes numtokens=256 numtokens=4096 --gpus all \
  --out /tmp/tuned > "$OUT/tune.log" 2>&1
echo "autotune rc=$? at $(( $(date +%s) - t0 ))s"
tar czf "$OUT/tuned.tgz" -C /tmp/tuned . 2>/dev/null
grep -E "^\[[0-9]+/" "$OUT/tune.log" | sed 's/, ETA.*//'
HELION_OPS_CONFIG_DIR=/tmp/tuned timeout 60 helion-ops bench "$1" --shapes numtokens=16384 --json "$OUT/bench.json" \
  > "$OUT/bench.log" 2>&1
echo "bench rc=$? at $(( $(date +%s) - t0 ))s"; tail -n 12 "$OUT/bench.log"
