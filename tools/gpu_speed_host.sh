#!/usr/bin/env bash
# Device call C (same warm machine, two or more GPUs): the autotune speed-up
# and quality subset (the sequential path on GPU 0; `--gpus all` on GPU 0
# alone; `--gpus all` on every GPU), then, alone on the machine, host time
# per eager call and the MLP block benchmark with the tuned configs.
set -u
source tools/gpu_env.sh 1.5.0 || exit 1
plat=$(python3 -c "from helion_ops.core import current_platform; print(current_platform())")
if [ ! -d /tmp/tuned ]; then mkdir -p /tmp/tuned && tar xzf ".tuned/$plat.tgz" -C /tmp/tuned; fi
sub=(rms_norm silu_and_mul per_token_group_fp8_quant --effort sweep --shapes numtokens=256)
run() {  # name, CUDA_VISIBLE_DEVICES, extra args
  local t0; t0=$(date +%s)
  CUDA_VISIBLE_DEVICES=$2 timeout 150 helion-ops autotune "${sub[@]}" "${@:3}" --out "/tmp/$1" > "/tmp/$1.log" 2>&1
  echo "$1: rc=$? wall=$(( $(date +%s) - t0 ))s jobs=$(grep -c '"shape"' /tmp/$1/*/*.json | awk -F: '{s+=$2} END {print s}')"
}
all=$(python3 -c "import torch; print(','.join(map(str, range(torch.cuda.device_count()))))")
{ run seq 0; run gpus1 0 --gpus all; run gpusall "$all" --gpus all
  for f in seq gpus1 gpusall; do echo "== $f"; grep -E "│ (rms_norm|silu_and_mul|per_token)" "/tmp/$f.log"; done; } > "$OUT/speedup.log" 2>&1
head -n 3 "$OUT/speedup.log"
export HELION_OPS_CONFIG_DIR=/tmp/tuned
CUDA_VISIBLE_DEVICES=0 timeout 300 python3 -m pytest -q -p no:cacheprovider benchmarks/test_host_overhead.py benchmarks/test_block.py \
  --benchmark-json "$OUT/host_block.json" > "$OUT/host_block.log" 2>&1
echo "host/block rc=$?"; grep -E "^FAILED|^E " "$OUT/host_block.log" | head -n 6
python3 benchmarks/summarize.py "$OUT/host_block.json"
