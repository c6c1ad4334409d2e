#!/usr/bin/env bash
# The wheels a device machine needs (it has no network and no build backend;
# its image brings python 3.12, torch and triton), for tools/gpu_env.sh there:
#   .whl/ours        this project's three layers, rebuilt on every run;
#   .whl/h<version>  helion, one folder per version in $HELION_VERSIONS;
#   .whl/common      liger-kernel (the bench's baseline) and the test tools.
# Third-party wheels are downloaded once (delete a folder to fetch it again).
set -euo pipefail
cd "$(dirname "$0")/.."
HELION_VERSIONS=${HELION_VERSIONS:-1.5.0 1.4.0}
COMMON=(liger-kernel==0.8.5 pytest pytest-benchmark py-cpuinfo pluggy iniconfig hypothesis attrs sortedcontainers
  filecheck)
download() {  # folder, requirements...
  local dir=$1
  shift
  [ -n "$(ls "$dir"/*.whl 2>/dev/null)" ] && return
  python3 -m pip download -q --no-deps --python-version 3.12 -d "$dir" "$@" 2>/dev/null
}
for v in $HELION_VERSIONS; do download ".whl/h$v" "helion==$v"; done
download .whl/common "${COMMON[@]}"
rm -rf .whl/ours
for p in dynamo_bridge core kernels; do uv build -q --wheel "packages/$p" -o .whl/ours; done
ls .whl/*
