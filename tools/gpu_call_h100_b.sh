#!/usr/bin/env bash
# Device call 2 on one H100 (2026-11-28 session), shipped configs:
# (1) host time per eager call (drained rounds; plans now replay the host
#     code) and its breakdown (issue 7);
# (2) why per_token_group's 4096x4096 sweep kept the default: that job alone,
#     which now fails with the reason when no candidate matches the reference;
# (3) the GPU-marked tests with helion 1.5.0;
# (4) `helion-ops bench --all --plot` (1, 256, 16384 tokens) in the time left.
set -u
source tools/gpu_env.sh 1.5.0 || exit 1
host_bench 100
host_breakdown 60
timeout 60 helion-ops autotune per_token_group_fp8_quant --effort sweep --shapes hidden=4096,numtokens=4096 \
  hidden=4096,numtokens=256 --out /tmp/diag > "$OUT/diag.log" 2>&1
echo "diag rc=$? $(el)"; grep -iE "none of|error|ms \(default" "$OUT/diag.log" | cut -c1-400 | head -n 6
timeout 200 python3 -m pytest -q -m gpu -p no:cacheprovider -rfE packages/dynamo_bridge/tests packages/core/tests \
  packages/kernels/tests > "$OUT/tests.log" 2>&1
echo "tests rc=$? $(el): $(tail -n 1 "$OUT/tests.log")"; grep -E "^FAILED|^ERROR" "$OUT/tests.log" | head -n 12
timeout $(( 590 - ($(date +%s) - GPU_T0) )) helion-ops bench --all --shapes numtokens=1 numtokens=256 numtokens=16384 \
  --json "$OUT/bench.json" --plot "$OUT/bench.png" > "$OUT/bench.log" 2>&1
echo "bench rc=$? $(el)"; tail -n 4 "$OUT/bench.log" | cut -c1-300
