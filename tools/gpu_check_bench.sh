#!/usr/bin/env bash
# Device call B (same warm machine as call A when it still is: /tmp/tuned
# holds the tuned configs; else they are unpacked from .tuned/<platform>.tgz).
# GPU 0: the GPU-marked tests with helion 1.5.0, then 1.4.0.
# GPU 1: `helion-ops bench --all` with the tuned configs (JSON + plot).
# GPU 2 and 3 (when present): the autotune speed-up and quality check on a
#   subset: the sequential path on one GPU, `--gpus all` on one GPU.
# Then, alone on the machine: host time per call and the MLP block benchmark.
# usage: bash tools/gpu_check_bench.sh [ngpus]
set -u
source tools/gpu_env.sh 1.5.0 || exit 1
plat=$(python3 -c "from helion_ops.core import current_platform; print(current_platform())")
if [ ! -d /tmp/tuned ]; then mkdir -p /tmp/tuned && tar xzf ".tuned/$plat.tgz" -C /tmp/tuned; fi
export HELION_OPS_CONFIG_DIR=/tmp/tuned
ngpus=${1:-4}
tests=(packages/dynamo_bridge/tests packages/core/tests packages/kernels/tests)
(
  for v in 1.5.0 1.4.0; do
    ( source tools/gpu_env.sh "$v" >/dev/null && CUDA_VISIBLE_DEVICES=0 timeout 300 python3 -m pytest -q -m gpu \
        -p no:cacheprovider -rf "${tests[@]}" > "$OUT/tests-$v.log" 2>&1; echo "rc=$?" >> "$OUT/tests-$v.log" )
  done
) &
( CUDA_VISIBLE_DEVICES=1 timeout 420 helion-ops bench --all --shapes numtokens=1 numtokens=64 numtokens=256 numtokens=4096 numtokens=16384 \
    --json "$OUT/bench.json" --plot "$OUT/bench.png" > "$OUT/bench.log" 2>&1; echo "bench rc=$?" >> "$OUT/bench.log" ) &
if [ "$ngpus" -ge 4 ]; then
  sub=(rms_norm silu_and_mul --effort quick --budget-seconds 8 --shapes numtokens=64)
  (
    { t0=$(date +%s); CUDA_VISIBLE_DEVICES=2 timeout 300 helion-ops autotune "${sub[@]}" --out /tmp/seq > /tmp/seq.log 2>&1
      echo "sequential 1 GPU rc=$? wall=$(( $(date +%s) - t0 ))s"; } > "$OUT/speedup.log"
  ) &
  (
    { t0=$(date +%s); CUDA_VISIBLE_DEVICES=3 timeout 300 helion-ops autotune "${sub[@]}" --gpus all --out /tmp/par1 > /tmp/par1.log 2>&1
      echo "--gpus all on 1 GPU rc=$? wall=$(( $(date +%s) - t0 ))s"; } > /tmp/par1.wall
  ) &
fi
wait
if [ "$ngpus" -ge 4 ]; then
  cat /tmp/par1.wall >> "$OUT/speedup.log"
  { t0=$(date +%s); timeout 200 helion-ops autotune "${sub[@]}" --gpus all --out /tmp/par4 > /tmp/par4.log 2>&1
    echo "--gpus all on $ngpus GPUs rc=$? wall=$(( $(date +%s) - t0 ))s"; } >> "$OUT/speedup.log"
  for f in seq par1 par4; do echo "== $f"; grep -E "rms_norm|silu_and_mul" /tmp/$f.log | tail -n 8; done >> "$OUT/speedup.log"
fi
CUDA_VISIBLE_DEVICES=0 timeout 240 python3 -m pytest -q -p no:cacheprovider benchmarks/test_host_overhead.py benchmarks/test_block.py \
  --benchmark-json "$OUT/host_block.json" > "$OUT/host_block.log" 2>&1
echo "host/block rc=$?"
python3 benchmarks/summarize.py "$OUT/host_block.json" > /tmp/host_block.md 2>&1
for v in 1.5.0 1.4.0; do echo "tests helion $v: $(tail -n 3 "$OUT/tests-$v.log" | tr '\n' ' ')"; done
tail -n 4 "$OUT/bench.log"; cat "$OUT/speedup.log" 2>/dev/null | head -n 4; cat /tmp/host_block.md
