#!/usr/bin/env bash
# Device call B (a machine with two or more GPUs, warm from call A: /tmp/tuned
# holds the tuned configs; else they are unpacked from .tuned/<platform>.tgz).
# GPU 0: the GPU-marked tests with each helion version given (default 1.5.0 1.4.0).
# GPU 1: `helion-ops bench --all` with the tuned configs (JSON + plot).
# usage: bash tools/gpu_check_bench.sh [HELION_VERSION ...]
set -u
source tools/gpu_env.sh 1.5.0 || exit 1
plat=$(python3 -c "from helion_ops.core import current_platform; print(current_platform())")
if [ ! -d /tmp/tuned ]; then mkdir -p /tmp/tuned && tar xzf ".tuned/$plat.tgz" -C /tmp/tuned; fi
export HELION_OPS_CONFIG_DIR=/tmp/tuned
versions=("${@:-1.5.0 1.4.0}")
[ $# -eq 0 ] && versions=(1.5.0 1.4.0)
tests=(packages/dynamo_bridge/tests packages/core/tests packages/kernels/tests)
(
  for v in "${versions[@]}"; do
    ( source tools/gpu_env.sh "$v" >/dev/null && CUDA_VISIBLE_DEVICES=0 timeout 270 python3 -m pytest -q -m gpu \
        -p no:cacheprovider -rfE "${tests[@]}" > "$OUT/tests-$v.log" 2>&1; echo "rc=$?" >> "$OUT/tests-$v.log" )
  done
) &
( CUDA_VISIBLE_DEVICES=1 timeout 520 helion-ops bench --all --shapes numtokens=1 numtokens=256 numtokens=16384 \
    --json "$OUT/bench.json" --plot "$OUT/bench.png" > "$OUT/bench.log" 2>&1; echo "bench rc=$?" >> "$OUT/bench.log" ) &
wait
for v in "${versions[@]}"; do echo "tests helion $v: $(grep -E 'passed|failed' "$OUT/tests-$v.log" | tail -n 1) $(tail -n 1 "$OUT/tests-$v.log")"; grep -E "^FAILED|^ERROR" "$OUT/tests-$v.log" | head -n 12; done
tail -n 3 "$OUT/bench.log"
