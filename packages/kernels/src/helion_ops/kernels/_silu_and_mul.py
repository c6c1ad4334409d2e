"""silu_and_mul: ``out = silu(x[:, :N]) * x[:, N:]`` for ``x`` of shape [tokens, 2N].

The gated activation of SwiGLU MLPs: the gate and up projections arrive
concatenated in one matmul output, the activation halves the last dimension.
Elementwise, so the kernel tiles tokens and columns (2D): even a decode batch
of one token spreads over many programs.

One module per op: the Helion kernel (registered through core), the
pure-PyTorch reference (imports without a GPU), the input generator, the
input check and the config key (intermediate size N, then number of tokens).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import helion.language as hl
import torch

from helion_ops.core import expect_divisible, expect_kernel_device, expect_tensor, nearest_key, register_kernel

from ._tuning import tile_configs

OP_NAME = "silu_and_mul"
CONFIG_DIR = Path(__file__).parent / "configs"
DECODE_TOKENS = (1, 8, 64, 256)
PREFILL_TOKENS = (1024, 4096, 16384)
INTERMEDIATE_SIZES = (4096, 8192, 11008, 14336)
DTYPES = (torch.bfloat16, torch.float16, torch.float32)
KEY_FIELDS = ("intermediate", "numtokens")
# silu(g) * u is computed as g / (1 + 2**(-g * log2(e))) * u: one division,
# where sigmoid compiles to an exp2, a reciprocal and two more multiplies
# (sm_90 SASS of silu_and_mul_fp8_quant: 30.1 -> 25.1 instructions per
# element, tools/sass_count.py). That kernel is issue-bound at 11008 columns:
# on an H200 it went from 287 to 253 us at 16384 x 11008, same configs
# (tools/gpu_variants.py --only silu_quant; docs/benchmarks.md, fourth run).
# g is divided before u multiplies it: for a gate far below zero the
# quotient is -0 as in the reference, where (g * u) / inf could be
# inf / inf = NaN once |g * u| overflows float32.
LOG2E = 1.4426950408889634


def silu_and_mul_reference(x: torch.Tensor) -> torch.Tensor:
    """The formula in float32, cast back to the input dtype."""
    gate, up = x.float().chunk(2, dim=-1)
    return (gate * torch.sigmoid(gate) * up).to(x.dtype)


def silu_and_mul_validate(x: torch.Tensor) -> None:
    """``x`` is [tokens, 2N] of a float dtype on a kernel device, its last dimension contiguous."""
    expect_tensor(OP_NAME, "x", x, dtypes=DTYPES, ndim=2)
    expect_kernel_device(OP_NAME, x=x)
    expect_divisible(OP_NAME, "x", x, -1, 2)


def silu_and_mul_inputs(
    tokens: tuple[int, ...] = DECODE_TOKENS + PREFILL_TOKENS,
    hidden: tuple[int, ...] = INTERMEDIATE_SIZES,
    dtype: torch.dtype = torch.bfloat16,
    device: str = "cuda",
) -> dict[str, tuple[object, ...]]:
    """``{"intermediate=N,numtokens=T": (x,)}`` with ``x`` of shape [T, 2N];
    ``hidden`` holds the intermediate sizes N."""
    out: dict[str, tuple[object, ...]] = {}
    for n in hidden:
        for t in tokens:
            out[f"intermediate={n},numtokens={t}"] = (torch.randn(t, 2 * n, dtype=dtype, device=device),)
    return out


def intermediate_config_picker(args: tuple[Any, ...], keys: Sequence[Mapping[str, Any]]) -> str | None:
    """The config entry for (N, tokens), nearest as declarative keys choose.

    A picker rather than ``keys=``: declarative keys read a dimension as it is,
    and N is half of ``x``'s last dimension (shared with silu_and_mul_fp8_quant).
    """
    x = args[0]
    return nearest_key({"intermediate": int(x.shape[-1]) // 2, "numtokens": int(x.shape[0])}, keys, KEY_FIELDS)


def silu_and_mul_tuning_configs(args: tuple[Any, ...]) -> list[dict[str, Any]]:
    """Candidates for ``helion-ops autotune --effort sweep``: [tokens, columns] tiles x warps."""
    x = args[0]
    return tile_configs(int(x.shape[0]), int(x.shape[1]) // 2)

@register_kernel(
    config_picker=intermediate_config_picker,
    reference=silu_and_mul_reference,
    input_generator=silu_and_mul_inputs,
    configs=CONFIG_DIR,
    validate=silu_and_mul_validate,
    tuning_configs=silu_and_mul_tuning_configs,
)
def silu_and_mul(x: torch.Tensor) -> torch.Tensor:
    m, two_n = x.size()
    n = two_n // 2
    # [tokens, 2, N]: the gate and the up half index the same columns.
    halves = x.view(m, 2, n)
    out = torch.empty([m, n], dtype=x.dtype, device=x.device)
    for rows, cols in hl.tile([m, n]):
        gate = halves[rows, 0, cols].to(torch.float32)
        up = halves[rows, 1, cols].to(torch.float32)
        out[rows, cols] = (gate / (1.0 + torch.exp2(gate * -LOG2E)) * up).to(out.dtype)
    return out
