#!/usr/bin/env bash
# Build this project's three wheels into .whl/ours for the device machine
# (which has no network and no build backend).
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf .whl/ours
for p in dynamo_bridge core kernels; do uv build -q --wheel "packages/$p" -o .whl/ours; done
ls .whl/ours
