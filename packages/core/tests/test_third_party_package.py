"""A third-party kernel package, written as a user would, in a fresh process.

The package (made on disk by this test) imports only ``helion_ops.core``,
registers one op with ``register_kernel``, ships configs for ``nvidia_h100``
and ``cpu`` as package data and declares the ``helion_ops.kernels`` entry
point. Nothing in it touches Dynamo. The child process checks: eager calls
match the reference (Triton interpreter); ``torch.compile(fullgraph=True)``
with aot_eager and with Inductor gives no graph break and the same result;
the shipped ``nvidia_h100`` configs load and are selected per shape; the op is
found through the entry point; importing the package does not import
helion_ops.kernels.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from helion_ops.core import ENTRY_POINT_GROUP, interpreter_active

pytestmark = pytest.mark.skipif(
    torch.cuda.is_available() or not interpreter_active(),
    reason="runs the package's kernel on CPU tensors: needs TRITON_INTERPRET=1",
)

KERNEL_MODULE = '''
"""acme_kernels.scale: out = x * alpha, rows tiled."""
from pathlib import Path

import helion.language as hl
import torch

from helion_ops.core import register_kernel


def scale_reference(x: torch.Tensor, alpha: float) -> torch.Tensor:
    return x * alpha


@register_kernel(
    "acme_scale",
    keys={"numtokens": ("x", 0)},
    reference=scale_reference,
    configs=Path(__file__).parent / "configs",
)
def acme_scale(x: torch.Tensor, alpha: float) -> torch.Tensor:
    out = torch.empty_like(x)
    for rows in hl.tile(x.size(0)):
        out[rows, :] = x[rows, :] * alpha
    return out
'''

CHILD = '''
import sys
import warnings

import torch
from torch._dynamo.utils import counters

import acme_kernels
from helion_ops.core import ConfigStore, get_kernel, load_entry_points

assert "helion_ops.kernels" not in sys.modules, "the third-party op pulled in helion_ops.kernels"
assert "acme" in load_entry_points()
op = get_kernel("acme_scale")
assert op is acme_kernels.acme_scale
assert op.platform == "cpu", op.platform

x = torch.randn(5, 16)
torch.testing.assert_close(op(x, 3.0), x * 3.0)

for backend in ("aot_eager", "inductor"):
    torch._dynamo.reset()
    counters.clear()
    fn = torch.compile(lambda t: op(t, 2.0) + 1, backend=backend, fullgraph=True)
    torch.testing.assert_close(fn(x), x * 2.0 + 1)
    assert not counters["graph_break"], dict(counters["graph_break"])

h100 = ConfigStore(op.config_store.directories).load("acme_scale", "nvidia_h100")
assert sorted(h100) == ["default", "numtokens=1", "numtokens=256"], sorted(h100)
assert h100["numtokens=256"].config["num_warps"] == 8

print("third-party package OK")
'''


def _entries(small_warps: int, large_warps: int) -> str:
    return json.dumps(
        [
            {"key": {}, "config": {"block_sizes": [4], "num_warps": 4}},
            {"key": {"numtokens": 1}, "config": {"block_sizes": [1], "num_warps": small_warps}},
            {"key": {"numtokens": 256}, "config": {"block_sizes": [8], "num_warps": large_warps}},
        ]
    )


def _make_package(root: Path) -> None:
    package = root / "acme_kernels"
    (package / "configs" / "acme_scale").mkdir(parents=True)
    (package / "__init__.py").write_text("from .scale import acme_scale\n\n__all__ = ['acme_scale']\n")
    (package / "scale.py").write_text(textwrap.dedent(KERNEL_MODULE))
    (package / "configs" / "acme_scale" / "nvidia_h100.json").write_text(_entries(1, 8))
    (package / "configs" / "acme_scale" / "cpu.json").write_text(_entries(1, 2))
    dist = root / "acme_kernels-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-kernels\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nacme = acme_kernels\n")


def test_third_party_package_gets_eager_and_compiled_execution(tmp_path: Path) -> None:
    _make_package(tmp_path)
    source = (tmp_path / "acme_kernels" / "scale.py").read_text()
    assert "dynamo" not in source and "torch.library" not in source
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert "third-party package OK" in done.stdout
