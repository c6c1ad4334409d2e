#!/usr/bin/env bash
# One device call, its steps in the order given:
#   bash tools/gpu_call.sh STEP [STEP ...]
# Run from the repository root on the device machine, with .whl carried
# (tools/build_gpu_wheels.sh builds .whl/ours first). HELION=1.4.0 runs the
# steps with that helion (default 1.5.0). Every step has its own time limit
# (the *_LIMIT variables) and writes into $OUT; the logs come back as one
# archive, $OUT/logs.tgz (a call returns at most 8 files).
#
# Steps:
#   tune      helion-ops autotune $TUNE_OPS --effort $TUNE_EFFORT (default sweep)
#             --shapes $TUNE_SHAPES --gpus all into /tmp/tuned (or $TUNE_JOBS:
#             'OPS: SPECS' groups separated by ';', one after the other; a
#             group 'OPS: SPECS: EFFORT' names its own effort), returned as
#             $OUT/tuned.tgz; then each tuned key's entry next to the one the
#             package ships (helion-ops merge --dry-run). $TUNE_BUDGET: seconds
#             per job (--budget-seconds, shared by an op's kernel variants)
#   bench     helion-ops bench --repeats $REPEATS on $BENCH_SHAPES, the ops in
#             $BENCH_GROUPS, one chain of groups per GPU (each process measures
#             its own copy ceiling); configs from $TUNED_DIR (default
#             /tmp/tuned, where a tune step of this machine leaves them; a
#             carried folder works too) when it exists, else the installed
#             package's; $OUT/bench-<group>.json, then the merged table and plot
#   tests     the GPU-marked tests of the three packages (with the configs of
#             $TESTS_CONFIGS layered over the package's when set, e.g.
#             /tmp/tuned after a tune step of this machine)
#   host      host time per eager call (benchmarks/test_host_overhead.py) and
#             its breakdown (tools/gpu_variants.py --only host)
#   block     the MLP block benchmark (benchmarks/test_block.py)
#   variants  tools/gpu_variants.py $VARIANTS (kernel formulations and configs;
#             several argument lists separated by ';' run at once, one per GPU)
#   speedup   autotune throughput over GPUs: the same 12 jobs (rms_norm,
#             silu_and_mul, per_token_group_fp8_quant at 256 tokens) by the
#             sequential path, by --gpus all on GPU 0 alone, by --gpus all on
#             every GPU, one after the other, each with a cold Triton cache
#   quality   autotune quality on one GPU: rms_norm at 256 and 4096 tokens by
#             the sequential path, then by --gpus all, each with a cold Triton
#             cache; then the two runs' configs timed side by side
#             (tools/compare_tuned.py)
set -u
source tools/gpu_env.sh "${HELION:-1.5.0}" || exit 1
TUNE_OPS=${TUNE_OPS:---all}
TUNE_SHAPES=${TUNE_SHAPES:-numtokens=1 numtokens=256 numtokens=4096 numtokens=16384}
BENCH_SHAPES=${BENCH_SHAPES:-numtokens=1 numtokens=256 numtokens=16384}
BENCH_GROUPS=${BENCH_GROUPS:-rms_norm,fused_add_rms_norm silu_and_mul,silu_and_mul_fp8_quant per_token_group_fp8_quant rotary_embedding}
REPEATS=${REPEATS:-3}
TUNED_DIR=${TUNED_DIR:-/tmp/tuned}
VARIANTS=${VARIANTS:-}
gpus=$(nvidia-smi -L | wc -l)
all_gpus=$(seq -s, 0 $(( gpus - 1 )))

step_tune() {
  # TUNE_JOBS, when set, holds several 'OPS: SPECS' groups separated by ';'
  # (a spec must match a shape of every op it is given with), tuned one
  # group after the other into /tmp/tuned within the one TUNE_LIMIT.
  local groups group ops specs effort left deadline=$(( $(date +%s) + ${TUNE_LIMIT:-540} ))
  IFS=';' read -ra groups <<< "${TUNE_JOBS:-$TUNE_OPS: $TUNE_SHAPES}"
  for group in "${groups[@]}"; do
    ops=${group%%:*} specs=${group#*:} effort=${TUNE_EFFORT:-sweep} left=$(( deadline - $(date +%s) ))
    [[ $specs == *:* ]] && effort=${specs##*:} specs=${specs%:*}
    (( left > 0 )) || { echo "tune [$ops ]: skipped, TUNE_LIMIT spent"; continue; }
    # shellcheck disable=SC2086  # the op and shape lists are word lists
    timeout "$left" helion-ops autotune $ops --effort $effort --shapes $specs --gpus all \
      ${TUNE_BUDGET:+--budget-seconds $TUNE_BUDGET} --out /tmp/tuned >> "$OUT/tune.log" 2>&1
    echo "tune [$ops ] $effort: rc=$? $(el), $(_entries /tmp/tuned) entries"
  done
  grep -iE "error|failed" "$OUT/tune.log" | head -n 8
  tar czf "$OUT/tuned.tgz" -C /tmp/tuned . 2>/dev/null
  # Each tuned key against the entry the package ships (variant, tuned us); writes nothing.
  local shipped
  shipped=$(python3 -c "import importlib.resources as r; print(r.files('helion_ops.kernels') / 'configs')")
  [ -d /tmp/tuned ] && helion-ops merge /tmp/tuned --into "$shipped" --dry-run
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

step_tests() {
  [ -n "${TESTS_CONFIGS:-}" ] && export HELION_OPS_CONFIG_DIR=$TESTS_CONFIGS
  echo "tests configs: ${HELION_OPS_CONFIG_DIR:-installed package}"
  timeout "${TESTS_LIMIT:-250}" python3 -m pytest -q -m gpu -p no:cacheprovider -rfE packages/dynamo_bridge/tests \
    packages/core/tests packages/kernels/tests > "$OUT/tests.log" 2>&1
  echo "tests rc=$? $(el): $(tail -n 1 "$OUT/tests.log")"; grep -E "^FAILED|^ERROR" "$OUT/tests.log" | head -n 12
}

step_host() {
  host_bench "${HOST_LIMIT:-100}"
  host_breakdown 60
}

step_block() {
  timeout "${BLOCK_LIMIT:-200}" python3 -m pytest -q -p no:cacheprovider benchmarks/test_block.py \
    --benchmark-json "$OUT/block.json" > "$OUT/block.log" 2>&1
  echo "block rc=$? $(el)"; grep -E "^FAILED|^E " "$OUT/block.log" | head -n 6
  python3 benchmarks/summarize.py "$OUT/block.json"
}

step_variants() {
  # VARIANTS holds one argument list, or several separated by ';': those run
  # at once, one per GPU (variants-<i>.log).
  local lists i=0
  IFS=';' read -ra lists <<< "$VARIANTS"
  [ ${#lists[@]} -eq 0 ] && lists=("")
  for (( i = 0; i < ${#lists[@]} && i < gpus; i++ )); do
    # shellcheck disable=SC2086  # an argument list
    ( CUDA_VISIBLE_DEVICES=$i timeout "${VARIANTS_LIMIT:-300}" python3 tools/gpu_variants.py ${lists[$i]} \
        > "$OUT/variants-$i.log" 2>&1; echo "variants ${lists[$i]} (GPU $i): rc=$? $(el)" ) &
  done
  wait
  for (( i = 0; i < ${#lists[@]} && i < gpus; i++ )); do
    grep -vE "^\s*$" "$OUT/variants-$i.log" | head -n 80
  done
}

# _entries DIR: how many config entries the autotune output DIR holds.
_entries() { cat "$1"/*/*.json 2>/dev/null | grep -c '"shape"'; }

# _autotune NAME CUDA_VISIBLE_DEVICES LIMIT [ARGS...]: one autotune run on a cold
# Triton cache of its own, into /tmp/NAME; prints its wall time and entries.
_autotune() {
  local name=$1 devices=$2 limit=$3 s; s=$(date +%s)
  shift 3
  TRITON_CACHE_DIR=/tmp/tc-$name CUDA_VISIBLE_DEVICES=$devices timeout "$limit" helion-ops autotune "$@" \
    --out "/tmp/$name" > "$OUT/$name.log" 2>&1
  echo "$name: rc=$? wall=$(( $(date +%s) - s ))s entries=$(_entries "/tmp/$name")"
}

step_speedup() {
  local jobs=(rms_norm silu_and_mul per_token_group_fp8_quant --effort sweep --shapes numtokens=256)
  _autotune seq 0 170 "${jobs[@]}"
  _autotune gpus1 0 170 "${jobs[@]}" --gpus all
  _autotune gpusall "$all_gpus" 170 "${jobs[@]}" --gpus all
}

step_quality() {
  local jobs=(rms_norm --effort sweep --shapes numtokens=256 numtokens=4096)
  _autotune q-seq 0 100 "${jobs[@]}"
  _autotune q-gpus 0 100 "${jobs[@]}" --gpus all
  timeout 60 python3 tools/compare_tuned.py /tmp/q-seq /tmp/q-gpus > "$OUT/compare.log" 2>&1
  echo "compare rc=$? $(el)"; tail -n 12 "$OUT/compare.log"
}

for step in "$@"; do  # every step named exists before any runs
  declare -F "step_$step" > /dev/null || { echo "unknown step '$step' (see the top of $0)"; exit 2; }
done
for step in "$@"; do
  echo "== $step ($(el))"
  "step_$step"
done
# At most 8 files come back from $OUT: the logs travel as one archive.
logs=$(cd "$OUT" && ls ./*.log 2>/dev/null)
[ -n "$logs" ] && tar czf "$OUT/logs.tgz" -C "$OUT" $logs && rm -f "$OUT"/*.log
