"""libdevice in Triton's CPU interpreter: enable_interpreter_libdevice points the
stubs that kernels call (torch.rsqrt lowers to libdevice.rsqrt; kernels may call
libdevice.fast_dividef through hl.inline_triton) at tl.math twins."""

from __future__ import annotations

import helion
import helion.language as hl
import pytest
import torch

from helion_ops.core import enable_interpreter_libdevice, interpreter_active

pytestmark = pytest.mark.skipif(
    torch.cuda.is_available() or not interpreter_active(),
    reason="runs Helion kernels on CPU tensors: needs TRITON_INTERPRET=1",
)

CONFIG = helion.Config(block_sizes=[1], num_warps=4)


def _rsqrt_then_fast_divide(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for rows in hl.tile(x.size(0)):
        root = torch.rsqrt(x[rows, :])
        out[rows, :] = hl.inline_triton("libdevice.fast_dividef({0}, {1})", args=(root, y[rows, :]), output_like=root)
    return out


def test_rsqrt_and_fast_dividef_compute_their_formula_in_the_interpreter() -> None:
    assert enable_interpreter_libdevice() is True
    x, y = torch.rand(3, 40) + 0.5, torch.rand(3, 40) + 1.0
    kernel = helion.kernel(_rsqrt_then_fast_divide, static_shapes=False, config=CONFIG)
    torch.testing.assert_close(kernel(x, y), torch.rsqrt(x) / y)
