"""per_token_group_fp8_quant: dynamic FP8 (e4m3) quantisation per token and group of columns.

For every token (row) and every group of ``group_size`` consecutive columns:
``scale = max(amax(|x_group|) / 448, MIN_SCALE)`` and
``q = clamp(x_group / scale, -448, 448)`` cast to ``torch.float8_e4m3fn``
(round to nearest even), so that ``q * scale`` approximates ``x``.
448 is the largest finite e4m3fn value. ``MIN_SCALE`` keeps an all-zero group
from dividing 0 by 0: it quantises to zeros with scale ``MIN_SCALE``.

One module per op: the Helion kernel (registered through core), the
pure-PyTorch reference (imports without a GPU), the input generator, the
input check and the config key (hidden size, then number of tokens).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import helion.language as hl
import torch

from helion_ops.core import (
    InputValidationError,
    expect_divisible,
    expect_int,
    expect_kernel_device,
    expect_tensor,
    register_kernel,
)

from ._tuning import row_configs

OP_NAME = "per_token_group_fp8_quant"
CONFIG_DIR = Path(__file__).parent / "configs"
DECODE_TOKENS = (1, 8, 64, 256)
PREFILL_TOKENS = (1024, 4096, 16384)
HIDDEN_SIZES = (2048, 4096, 5120, 8192)
DEFAULT_GROUP_SIZE = 128
FP8_DTYPE = torch.float8_e4m3fn
FP8_MAX = 448.0  # torch.finfo(torch.float8_e4m3fn).max
MIN_SCALE = 1e-10  # lower bound of a group's scale: all-zero groups give zeros, not NaN
INPUT_DTYPES = (torch.bfloat16, torch.float16, torch.float32)


def per_token_group_fp8_quant_reference(
    x: torch.Tensor, group_size: int = DEFAULT_GROUP_SIZE
) -> tuple[torch.Tensor, torch.Tensor]:
    """The formula in float32: ``(q [T, H] float8_e4m3fn, scales [T, H // group_size] float32)``."""
    tokens, hidden = x.shape
    groups = x.float().reshape(tokens, hidden // group_size, group_size)
    scales = torch.clamp(groups.abs().amax(dim=-1) / FP8_MAX, min=MIN_SCALE)
    q = torch.clamp(groups / scales[:, :, None], -FP8_MAX, FP8_MAX).to(FP8_DTYPE)
    return q.reshape(tokens, hidden), scales


def validate_per_token_group_fp8_quant(x: Any, group_size: Any = DEFAULT_GROUP_SIZE) -> None:
    """2-D ``x`` of a float dtype on a kernel device, last dimension contiguous and a multiple of ``group_size``."""
    expect_tensor(OP_NAME, "x", x, dtypes=INPUT_DTYPES, ndim=2)
    expect_kernel_device(OP_NAME, x=x)
    expect_int(OP_NAME, "group_size", group_size)
    if group_size <= 0:
        raise InputValidationError(
            f"op {OP_NAME!r}: argument 'group_size' must be a positive number of columns, found {group_size}"
        )
    expect_divisible(OP_NAME, "x", x, 1, group_size)


def per_token_group_fp8_quant_inputs(
    tokens: tuple[int, ...] = DECODE_TOKENS + PREFILL_TOKENS,
    hidden: tuple[int, ...] = HIDDEN_SIZES,
    dtype: torch.dtype = torch.bfloat16,
    device: str = "cuda",
) -> dict[str, tuple[object, ...]]:
    """``{"hidden=H,numtokens=T": (x, group_size)}``; groups of 128 columns, or one group when H < 128."""
    out: dict[str, tuple[object, ...]] = {}
    for h in hidden:
        group_size = min(DEFAULT_GROUP_SIZE, h)
        for t in tokens:
            out[f"hidden={h},numtokens={t}"] = (torch.randn(t, h, dtype=dtype, device=device), group_size)
    return out


def per_token_group_fp8_quant_tuning_configs(args: tuple[Any, ...]) -> list[dict[str, Any]]:
    """Candidates for ``helion-ops autotune --effort sweep``: groups per
    program x warps (the kernel tiles the flat list of groups)."""
    x, group_size = args[0], int(args[1])
    return row_configs(int(x.shape[0]) * (int(x.shape[1]) // group_size), group_size)

@register_kernel(
    keys={"hidden": ("x", -1), "numtokens": ("x", 0)},
    reference=per_token_group_fp8_quant_reference,
    input_generator=per_token_group_fp8_quant_inputs,
    configs=CONFIG_DIR,
    validate=validate_per_token_group_fp8_quant,
    tuning_configs=per_token_group_fp8_quant_tuning_configs,
)
def per_token_group_fp8_quant(x: torch.Tensor, group_size: int = 128) -> tuple[torch.Tensor, torch.Tensor]:
    # The default is a literal: Helion copies the signature into generated code.
    m, n = x.size()
    num_groups = n // group_size
    # One flat list of groups ([m * num_groups, group_size]; a view for the
    # usual contiguous x, a copy where rows are strided): each program
    # quantises a block of consecutive groups. On the H100 this beat tiling
    # [tokens, groups] as a 3-D block (tools/gpu_variants.py, 16384x4096 bf16:
    # 2.76 TB/s, as Inductor, against 2.61 for the best [tokens, groups] tile).
    # group_size stays a runtime value (Helion pads it to a power of two and masks).
    x_groups = x.reshape(m * num_groups, group_size)
    q = torch.empty([m, n], dtype=torch.float8_e4m3fn, device=x.device)
    q_groups = q.view(m * num_groups, group_size)
    scales = torch.empty([m, num_groups], dtype=torch.float32, device=x.device)
    flat_scales = scales.view(m * num_groups)
    for groups in hl.tile(m * num_groups):
        vals = x_groups[groups, :].to(torch.float32)
        group_scale = torch.clamp(torch.amax(torch.abs(vals), dim=-1) / FP8_MAX, min=MIN_SCALE)
        # The reference's clamp to +-448 is left out: it cannot change a code.
        # scale >= amax / 448, so |x / scale| exceeds 448 by a few float32 ulps
        # at most, which rounds to 448 in e4m3 (the next code up, 480, is past
        # the rounding midpoint 464); and the GPU's float32 -> e4m3 cast
        # (cvt.rn.satfinite) saturates anyway. Its NaN-propagating max and min
        # were 6 of the kernel's 17 SASS instructions per element on sm_90
        # (tools/sass_count.py), in a kernel that issue rate limits.
        # A multiply by the group's reciprocal, not a division per element:
        # Triton's div.full.f32 rescales the divisor (two predicated
        # multiplies per element beside the reciprocal; sm_90, 16384 columns,
        # 8 groups and 2 warps: 172 -> 144 instructions). The product is
        # within an ulp or two of the quotient, as the GPU's division was.
        q_groups[groups, :] = (vals * (1.0 / group_scale)[:, None]).to(torch.float8_e4m3fn)
        flat_scales[groups] = group_scale
    return q, scales
