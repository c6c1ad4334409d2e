#!/usr/bin/env bash
# One device call, its steps in the order given:
#   bash tools/gpu_call.sh STEP [STEP ...]
# Steps (each under its own time limit, output into $OUT):
# Logs come back as $OUT/logs.tgz (a call returns at most 8 files).
#   tune   helion-ops autotune $TUNE_OPS --effort sweep --shapes $TUNE_SHAPES
#          --gpus all into /tmp/tuned, returned as $OUT/tuned.tgz
#   bench  helion-ops bench --repeats $REPEATS on $BENCH_SHAPES, the ops split
#          into groups run side by side, one group per GPU (each process
#          measures its own copy ceiling); configs from $TUNED_DIR (default
#          /tmp/tuned, where a tune step of this machine leaves them; a
#          carried folder works too) when it exists, else the installed package's;
#          $OUT/bench-<group>.json, then the merged table and plot
#   host   host time per eager call (benchmarks/test_host_overhead.py) and
#          its breakdown (tools/gpu_variants.py --only host)
#   tests  the GPU-marked tests of the three packages
# Wheels: carry .whl (tools/build_gpu_wheels.sh builds .whl/ours first).
set -u
source tools/gpu_env.sh "${HELION:-1.5.0}" || exit 1
TUNE_OPS=${TUNE_OPS:---all}
TUNE_SHAPES=${TUNE_SHAPES:-numtokens=1 numtokens=256 numtokens=4096 numtokens=16384}
BENCH_SHAPES=${BENCH_SHAPES:-numtokens=1 numtokens=256 numtokens=16384}
BENCH_GROUPS=${BENCH_GROUPS:-rms_norm,fused_add_rms_norm silu_and_mul,silu_and_mul_fp8_quant per_token_group_fp8_quant rotary_embedding}
REPEATS=${REPEATS:-3}
TUNED_DIR=${TUNED_DIR:-/tmp/tuned}
gpus=$(nvidia-smi -L | wc -l)

step_tune() {
  # shellcheck disable=SC2086  # the op and shape lists are word lists
  timeout "${TUNE_LIMIT:-540}" helion-ops autotune $TUNE_OPS --effort sweep --shapes $TUNE_SHAPES --gpus all \
    --out /tmp/tuned > "$OUT/tune.log" 2>&1
  echo "tune rc=$? $(el), $(grep -c '"shape"' /tmp/tuned/*/*.json 2>/dev/null | awk -F: '{s+=$2} END {print s}') entries"
  grep -iE "error|failed" "$OUT/tune.log" | head -n 8
  tar czf "$OUT/tuned.tgz" -C /tmp/tuned . 2>/dev/null
}

step_bench() {
  [ -d "$TUNED_DIR" ] && export HELION_OPS_CONFIG_DIR=$TUNED_DIR
  echo "bench configs: ${HELION_OPS_CONFIG_DIR:-installed package}"
  local groups=($BENCH_GROUPS) gpu i
  # One chain of groups per GPU, one after the other on it: two processes
  # timing on one GPU at once would disturb each other.
  for (( gpu = 0; gpu < gpus && gpu < ${#groups[@]}; gpu++ )); do
    (
      for (( i = gpu; i < ${#groups[@]}; i += gpus )); do
        local group=${groups[$i]}
        # shellcheck disable=SC2086
        CUDA_VISIBLE_DEVICES=$gpu timeout "${BENCH_LIMIT:-560}" helion-ops bench ${group//,/ } \
          --shapes $BENCH_SHAPES --repeats "$REPEATS" --json "$OUT/bench-${group%%,*}.json" \
          > "$OUT/bench-${group%%,*}.log" 2>&1
        echo "bench ${group} (GPU $gpu): rc=$? $(el)"
      done
    ) &
  done
  wait
  python3 benchmarks/bench_table.py "$OUT"/bench-*.json --plot "$OUT/bench.png" > "$OUT/bench.md" 2>&1
  echo "table rc=$?"; grep -A 40 "^Targets" "$OUT/bench.md"
}

step_host() {
  host_bench "${HOST_LIMIT:-100}"
  host_breakdown 60
}

step_tests() {
  timeout "${TESTS_LIMIT:-250}" python3 -m pytest -q -m gpu -p no:cacheprovider -rfE packages/dynamo_bridge/tests \
    packages/core/tests packages/kernels/tests > "$OUT/tests.log" 2>&1
  echo "tests rc=$? $(el): $(tail -n 1 "$OUT/tests.log")"; grep -E "^FAILED|^ERROR" "$OUT/tests.log" | head -n 12
}

for step in "$@"; do
  echo "== $step ($(el))"
  "step_$step"
done
# At most 8 files come back from $OUT: the logs travel as one archive.
tar czf "$OUT/logs.tgz" -C "$OUT" $(cd "$OUT" && ls ./*.log 2>/dev/null) 2>/dev/null && rm -f "$OUT"/*.log
