"""The norms' generated Triton code (no kernel runs): the weight's load comes
before the row's reduction.

On the GPU the compiler does not move a load across the reduction's
barriers, so a weight loaded where it is used (after the reduction) costs a
second global-memory round trip after the row's; at one token that was most
of the difference to Liger-Kernel on an H200 (docs/benchmarks.md, fourth run).
"""

from __future__ import annotations

import helion
import pytest
import torch
from _checks import SPECS


def _generated(op_name: str, config: dict[str, object]) -> str:
    spec = SPECS[op_name]
    args = spec.make_args(4, 64, torch.float32, "cpu")
    bound = helion.kernel(spec.op.raw_kernel_func, static_shapes=False).bind(args)
    return str(bound.to_triton_code(helion.Config(**config)))


@pytest.mark.parametrize("op_name", ["rms_norm", "fused_add_rms_norm"])
def test_the_weight_is_loaded_before_the_row_reduction(op_name):
    code = _generated(op_name, {"block_sizes": [1], "num_warps": 4})
    weight_load, reduction = code.find("tl.load(weight"), code.find("tl.sum(")
    assert weight_load != -1 and reduction != -1, code
    assert weight_load < reduction, f"{op_name}: the weight is loaded after the reduction:\n{code}"

