#!/usr/bin/env bash
# Device call A (a machine with several GPUs): tune every shipped op on this
# GPU's platform with `helion-ops autotune --gpus all`; the configs come back
# as $OUT/tuned.tgz (<op>/<platform>.json, provenance inside each entry).
# usage: bash tools/gpu_tune.sh [EFFORT (sweep)] [TIMEOUT_SECONDS (420)]
set -u
source tools/gpu_env.sh 1.5.0 || exit 1
nvidia-smi --query-gpu=index,name --format=csv,noheader
SHAPES=(numtokens=1 numtokens=256 numtokens=4096)
t0=$(date +%s)
timeout "${2:-420}" helion-ops autotune --all --effort "${1:-sweep}" \
  --shapes "${SHAPES[@]}" --gpus all --out /tmp/tuned > "$OUT/tune.log" 2>&1
echo "autotune rc=$? wall=$(( $(date +%s) - t0 ))s"
tar czf "$OUT/tuned.tgz" -C /tmp/tuned . 2>/dev/null
grep -v "^\s*$" "$OUT/tune.log" | tail -n 25
