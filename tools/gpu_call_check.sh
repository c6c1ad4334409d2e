#!/usr/bin/env bash
# Device call 2 of 2 (the same warm machine, two GPUs; /tmp/tuned from call 1):
# GPU 0: `helion-ops bench` with the tuned configs (JSON + plot).
# GPU 1: the GPU-marked tests with helion 1.5.0, then the host-time
# benchmark and the host-time breakdown of tools/gpu_variants.py.
# usage: bash tools/gpu_call_check.sh [OP ...|--all]   (default --all)
set -u
source tools/gpu_env.sh 1.5.0 || exit 1
export HELION_OPS_CONFIG_DIR=/tmp/tuned
t0=$(date +%s)
ops=("${@:---all}")
( CUDA_VISIBLE_DEVICES=0 timeout 540 helion-ops bench "${ops[@]}" --shapes numtokens=1 numtokens=256 numtokens=16384 \
    --json "$OUT/bench.json" --plot "$OUT/bench.png" > "$OUT/bench.log" 2>&1; echo "bench rc=$? at $(( $(date +%s) - t0 ))s" >> "$OUT/bench.log" ) &
(
  export CUDA_VISIBLE_DEVICES=1
  timeout 250 python3 -m pytest -q -m gpu -p no:cacheprovider -rfE packages/dynamo_bridge/tests packages/core/tests \
    packages/kernels/tests > "$OUT/tests.log" 2>&1; echo "tests rc=$? at $(( $(date +%s) - t0 ))s" >> "$OUT/tests.log"
  timeout 100 python3 -m pytest -q -p no:cacheprovider benchmarks/test_host_overhead.py \
    --benchmark-json "$OUT/host.json" > "$OUT/host.log" 2>&1
  python3 benchmarks/summarize.py "$OUT/host.json" >> "$OUT/host.log" 2>&1
  timeout 100 python3 tools/gpu_variants.py --only host > "$OUT/breakdown.log" 2>&1
) &
wait
tail -n 2 "$OUT/tests.log"; grep -E "^FAILED|^ERROR" "$OUT/tests.log" | head -n 12
cat "$OUT/host.log" | tail -n 8; tail -n 1 "$OUT/bench.log"
