#!/usr/bin/env bash
# Device call 3 on one H100 (2026-11-28 session): the host-time benchmark once
# more (issue 7: a second run of the four numbers), then the bench row that
# failed its CUDA-graph capture in the full run (silu_and_mul_fp8_quant at
# 1 token), now with the project's own thread-local capture.
set -u
source tools/gpu_env.sh 1.5.0 || exit 1
t0=$(date +%s)
host_bench 90
timeout 150 helion-ops bench silu_and_mul_fp8_quant --shapes numtokens=1 --json "$OUT/bench.json" > "$OUT/bench.log" 2>&1
echo "bench rc=$? $(( $(date +%s) - t0 ))s"; grep -E "failed|14336" "$OUT/bench.log" | cut -c1-250 | head -n 6
