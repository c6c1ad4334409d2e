# Source on the device machine: `source tools/gpu_env.sh [HELION_VERSION]`.
# Installs the carried wheels (.whl/h<version>, .whl/common, .whl/ours: this
# project's three layers, built here by tools/build_gpu_wheels.sh) into
# /tmp/site-<version> and puts it first on PYTHONPATH and PATH.
v=${1:-1.5.0}
site=/tmp/site-$v
# Reinstalled when the carried wheels changed (a warm machine keeps /tmp).
stamp=$(cat .whl/h$v/*.whl .whl/ours/*.whl | md5sum | cut -c1-32)
if [ "$(cat "$site/.stamp" 2>/dev/null)" != "$stamp" ]; then
  rm -rf "$site"
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" \
    .whl/h$v/*.whl .whl/common/*.whl .whl/ours/*.whl >/dev/null 2>&1 || { echo "wheel install failed"; return 1; }
  echo "$stamp" > "$site/.stamp"
fi
export PYTHONPATH=$site PATH=$site/bin:$PATH HELION_AUTOTUNE_BENCHMARK_SUBPROCESS=0 PYTHONUNBUFFERED=1
python3 -c "import importlib.metadata as m, torch; print('torch', torch.__version__, 'triton', m.version('triton'), 'helion', m.version('helion'), torch.cuda.get_device_name(0))" || return 1

# host_bench SECONDS: benchmarks/test_host_overhead.py into $OUT/host.{json,log}, then its table.
host_bench() {
  local t0; t0=$(date +%s)
  timeout "$1" python3 -m pytest -q -p no:cacheprovider benchmarks/test_host_overhead.py \
    --benchmark-json "$OUT/host.json" > "$OUT/host.log" 2>&1
  echo "host rc=$? $(( $(date +%s) - t0 ))s"; grep -E "^FAILED|^E " "$OUT/host.log" | head -n 6
  python3 benchmarks/summarize.py "$OUT/host.json"
}

# host_breakdown SECONDS: tools/gpu_variants.py --only host into $OUT/breakdown.log, then its lines.
host_breakdown() {
  timeout "$1" python3 tools/gpu_variants.py --only host > "$OUT/breakdown.log" 2>&1
  echo "breakdown rc=$?"; grep -E "^  [a-zA-Z(]|learned|breakdown" "$OUT/breakdown.log" | head -n 20
}

# el: seconds since this file was sourced (for progress lines).
GPU_T0=$(date +%s)
el() { echo "$(( $(date +%s) - GPU_T0 ))s"; }
