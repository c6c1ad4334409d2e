#!/usr/bin/env bash
# Device call on one H100 (2026-11-28 session):
# (1) host time per eager call (issue 7) and its breakdown;
# (2) re-tune rotary_embedding and per_token_group_fp8_quant for nvidia_h100
#     (`--effort sweep --gpus all`, 256 and 4096 tokens) into /tmp/tuned,
#     returned as $OUT/tuned.tgz;
# (3) issue 11's quality check on one GPU: the same 8 jobs (rms_norm at 256
#     and 4096 tokens, 4 widths) tuned by the sequential path, then by
#     `--gpus all`, one after the other, each with a cold Triton cache; then
#     the two runs' configs timed side by side (tools/compare_tuned.py).
set -u
source tools/gpu_env.sh 1.5.0 || exit 1
host_bench 100
host_breakdown 60
left=220
timeout "$left" helion-ops autotune rotary_embedding per_token_group_fp8_quant --effort sweep \
  --shapes numtokens=256 numtokens=4096 --gpus all --out /tmp/tuned > "$OUT/tune.log" 2>&1
echo "retune rc=$? $(el) (limit ${left}s)"
tar czf "$OUT/tuned.tgz" -C /tmp/tuned . 2>/dev/null
grep -E "^\[[0-9]+/" "$OUT/tune.log" | sed 's/, ETA.*//' | tail -n 16
sub=(rms_norm --effort sweep --shapes numtokens=256 numtokens=4096)
for run in seq gpus1; do
  extra=(); [ "$run" = gpus1 ] && extra=(--gpus all)
  s=$(date +%s)
  TRITON_CACHE_DIR=/tmp/tc-$run timeout 100 helion-ops autotune "${sub[@]}" "${extra[@]}" --out "/tmp/$run" \
    > "$OUT/q-$run.log" 2>&1
  echo "quality $run: rc=$? wall=$(( $(date +%s) - s ))s jobs=$(cat /tmp/$run/*/*.json 2>/dev/null | grep -c '"shape"')"
done
timeout 60 python3 tools/compare_tuned.py /tmp/seq /tmp/gpus1 > "$OUT/compare.log" 2>&1
echo "compare rc=$? $(el)"; tail -n 12 "$OUT/compare.log"
