#!/usr/bin/env bash
# Device call 4 on one H100 (2026-11-28 session), replays now generated
# straight-line code: the host-time benchmark (issue 7), the GPU-marked tests
# of plans (repeat calls of the six ops, direct launches under CUDA-graph
# capture), then the host-time breakdown.
set -u
source tools/gpu_env.sh 1.5.0 || exit 1
t0=$(date +%s)
host_bench 80
timeout 90 python3 -m pytest -q -m gpu -p no:cacheprovider -rfE -k "repeat_eager or launch_directly" \
  packages/core/tests packages/kernels/tests > "$OUT/tests.log" 2>&1
echo "tests rc=$? $(( $(date +%s) - t0 ))s: $(tail -n 1 "$OUT/tests.log")"; grep -E "^FAILED|^ERROR" "$OUT/tests.log" | head -n 8
host_breakdown 40
