#!/usr/bin/env bash
# Device call 1 of 2 on a machine with two GPUs (see tools/gpu_call_check.sh for 2 of 2).
# (1) With SPEEDUP=1: the autotune speed-up and quality subset, each run on its
#     own cold Triton cache: the sequential path on GPU 0 beside `--gpus all`
#     on GPU 1 alone, then `--gpus all` on both GPUs.
# (2) `helion-ops autotune OPS --effort sweep --gpus all` for this GPU's
#     platform; the configs stay in /tmp/tuned for call 2 and come back as
#     $OUT/tuned.tgz.
# usage: SPEEDUP=1 bash tools/gpu_call_tune.sh [OP ...|--all]   (default --all)
set -u
source tools/gpu_env.sh 1.5.0 || exit 1
nvidia-smi --query-gpu=index,name --format=csv,noheader
t0=$(date +%s)
if [ "${SPEEDUP:-0}" = 1 ]; then
  sub=(rms_norm silu_and_mul per_token_group_fp8_quant --effort sweep --shapes numtokens=256)
  run() {  # name, CUDA_VISIBLE_DEVICES, extra args
    local s; s=$(date +%s)
    TRITON_CACHE_DIR=/tmp/tc-$1 CUDA_VISIBLE_DEVICES=$2 timeout 170 helion-ops autotune "${sub[@]}" "${@:3}" \
      --out "/tmp/$1" > "$OUT/$1.log" 2>&1
    echo "$1: rc=$? wall=$(( $(date +%s) - s ))s jobs=$(cat /tmp/$1/*/*.json 2>/dev/null | grep -c '"shape"')"
  }
  { run seq 0 & run gpus1 1 --gpus all & wait; run gpus2 0,1 --gpus all; } > "$OUT/speedup.txt"
  cat "$OUT/speedup.txt"
fi
ops=("${@:---all}")
timeout $(( 540 - ($(date +%s) - t0) )) helion-ops autotune "${ops[@]}" --effort sweep \
  --shapes numtokens=256 numtokens=4096 --gpus all --out /tmp/tuned > "$OUT/tune.log" 2>&1
echo "autotune rc=$? at $(( $(date +%s) - t0 ))s"
tar czf "$OUT/tuned.tgz" -C /tmp/tuned . 2>/dev/null
grep -v "^\s*$" "$OUT/tune.log" | tail -n 8
