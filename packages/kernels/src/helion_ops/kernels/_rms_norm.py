"""rms_norm: ``y = x / sqrt(mean(x**2, -1) + eps) * weight``, over the last dimension.

One module per op: the Helion kernel (registered through core), the
pure-PyTorch reference (imports without a GPU), the input generator, the
input check and the config key (declarative: hidden size, then number of tokens).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import helion.language as hl
import torch

from helion_ops.core import expect_float, expect_kernel_device, expect_size, expect_tensor, register_kernel

from ._tuning import row_configs

OP_NAME = "rms_norm"
CONFIG_DIR = Path(__file__).parent / "configs"
DECODE_TOKENS = (1, 8, 64, 256)
PREFILL_TOKENS = (1024, 4096, 16384)
HIDDEN_SIZES = (2048, 4096, 5120, 8192)
DTYPES = (torch.bfloat16, torch.float16, torch.float32)


def rms_norm_reference(x: torch.Tensor, weight: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """The formula in float32, cast back to the input dtype."""
    xf = x.float()
    inv = torch.rsqrt(xf.pow(2).mean(dim=-1, keepdim=True) + eps)
    return (xf * inv * weight.float()).to(x.dtype)


def rms_norm_validate(x: torch.Tensor, weight: torch.Tensor, eps: float = 1e-6) -> None:
    """``x`` is [tokens, hidden] of a float dtype, ``weight`` is [hidden], both on one kernel device."""
    expect_tensor(OP_NAME, "x", x, dtypes=DTYPES, ndim=2)
    expect_tensor(OP_NAME, "weight", weight, dtypes=DTYPES, ndim=1)
    expect_kernel_device(OP_NAME, x=x, weight=weight)
    expect_size(OP_NAME, "weight", weight, 0, x.shape[1], "the hidden size of x")
    expect_float(OP_NAME, "eps", eps, minimum=0.0)


def rms_norm_inputs(
    tokens: tuple[int, ...] = DECODE_TOKENS + PREFILL_TOKENS,
    hidden: tuple[int, ...] = HIDDEN_SIZES,
    dtype: torch.dtype = torch.bfloat16,
    device: str = "cuda",
) -> dict[str, tuple[object, ...]]:
    """``{"hidden=H,numtokens=T": (x, weight, eps)}`` for every pair."""
    out: dict[str, tuple[object, ...]] = {}
    for h in hidden:
        weight = torch.randn(h, dtype=dtype, device=device)
        for t in tokens:
            out[f"hidden={h},numtokens={t}"] = (torch.randn(t, h, dtype=dtype, device=device), weight, 1e-6)
    return out


def rms_norm_tuning_configs(args: tuple[Any, ...]) -> list[dict[str, Any]]:
    """Candidates for ``helion-ops autotune --effort sweep``: rows per program x warps."""
    x = args[0]
    return row_configs(int(x.shape[0]), int(x.shape[1]))

@register_kernel(
    keys={"hidden": ("x", -1), "numtokens": ("x", 0)},
    reference=rms_norm_reference,
    input_generator=rms_norm_inputs,
    configs=CONFIG_DIR,
    validate=rms_norm_validate,
    tuning_configs=rms_norm_tuning_configs,
)
def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    m, n = x.size()
    out = torch.empty_like(x)
    for rows in hl.tile(m):
        # The weight is loaded before the reduction, not where it is used: the
        # compiler does not move a load across the reduction's barriers, and
        # at one token the two global-memory round trips would run one after
        # the other (the SASS had the weight's loads after both BAR.SYNCs).
        w = weight[None, :].to(torch.float32)
        xf = x[rows, :].to(torch.float32)
        mean_sq = torch.mean(xf * xf, dim=-1, keepdim=True)
        normed = xf * torch.rsqrt(mean_sq + eps)
        out[rows, :] = (normed * w).to(out.dtype)
    return out
