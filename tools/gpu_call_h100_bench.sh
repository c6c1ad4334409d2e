#!/usr/bin/env bash
# Device call on one H100, after tools/gpu_call_h100.sh and with the shipped
# configs: `helion-ops bench --all --plot` at 1, 256 and 16384 tokens, then
# the GPU-marked tests with helion 1.5.0 (direct launches the default) in the
# time left.
set -u
source tools/gpu_env.sh 1.5.0 || exit 1
t0=$(date +%s)
el() { echo "$(( $(date +%s) - t0 ))s"; }
timeout 400 helion-ops bench --all --shapes numtokens=1 numtokens=256 numtokens=16384 \
  --json "$OUT/bench.json" --plot "$OUT/bench.png" > "$OUT/bench.log" 2>&1
echo "bench rc=$? $(el)"; grep -iE "ceiling|geomean|error" "$OUT/bench.log" | head -n 8
timeout $(( 585 - ($(date +%s) - t0) )) python3 -m pytest -q -m gpu -p no:cacheprovider -rfE \
  packages/dynamo_bridge/tests packages/core/tests packages/kernels/tests > "$OUT/tests.log" 2>&1
echo "tests rc=$? $(el): $(tail -n 1 "$OUT/tests.log")"; grep -E "^FAILED|^ERROR" "$OUT/tests.log" | head -n 12
