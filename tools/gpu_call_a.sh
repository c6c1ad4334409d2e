#!/usr/bin/env bash
# Device call (one H100): host time per eager call first (issue 7), the
# GPU-marked tests with helion 1.5.0 (shipped nvidia_h100 configs, direct
# launches asserted by core's fast-path test), the kernel-variant diagnosis
# (tools/gpu_variants.py), then the GPU-marked tests with helion 1.4.0.
set -u
source tools/gpu_env.sh 1.5.0 || exit 1
tests=(packages/dynamo_bridge/tests packages/core/tests packages/kernels/tests)
t0=$(date +%s)
timeout 150 python3 -m pytest -q -p no:cacheprovider benchmarks/test_host_overhead.py \
  --benchmark-json "$OUT/host.json" > "$OUT/host.log" 2>&1
echo "host rc=$? $(( $(date +%s) - t0 ))s"; grep -E "^FAILED|^E " "$OUT/host.log" | head -n 6
python3 benchmarks/summarize.py "$OUT/host.json"
timeout 200 python3 -m pytest -q -m gpu -p no:cacheprovider -rfE "${tests[@]}" > "$OUT/tests-1.5.0.log" 2>&1
echo "tests 1.5.0 rc=$? $(( $(date +%s) - t0 ))s: $(tail -n 1 "$OUT/tests-1.5.0.log")"; grep -E "^FAILED|^ERROR" "$OUT/tests-1.5.0.log" | head -n 12
timeout 170 python3 tools/gpu_variants.py > "$OUT/variants.log" 2>&1
echo "variants rc=$? $(( $(date +%s) - t0 ))s"
source tools/gpu_env.sh 1.4.0 >/dev/null || exit 1
timeout "$(( 570 - ($(date +%s) - t0) ))" python3 -m pytest -q -m gpu -p no:cacheprovider -rfE "${tests[@]}" > "$OUT/tests-1.4.0.log" 2>&1
echo "tests 1.4.0 rc=$? $(( $(date +%s) - t0 ))s: $(tail -n 1 "$OUT/tests-1.4.0.log")"; grep -E "^FAILED|^ERROR" "$OUT/tests-1.4.0.log" | head -n 12
