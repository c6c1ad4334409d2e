"""fused_add_rms_norm: ``residual += x`` in place, then ``rms_norm(residual) * weight``.

The pre-norm step of a transformer block: the residual stream takes the
layer's output, and the next layer reads its normalised value. Fusing both
reads ``x`` and ``residual`` once and writes ``residual`` and ``out`` once.

As in vLLM, the sum is rounded to the input dtype (that is what the residual
stream stores) and the norm is taken of that rounded sum, in float32.

One module per op: the Helion kernel (registered through core) and its
``stored_sum`` variant, the pure-PyTorch reference (imports without a GPU),
the input generator, the input check and the config key (hidden size, then
number of tokens).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import helion.language as hl
import torch

from helion_ops.core import expect_float, expect_kernel_device, expect_size, expect_tensor, register_kernel

from ._tuning import row_configs

OP_NAME = "fused_add_rms_norm"
CONFIG_DIR = Path(__file__).parent / "configs"
DECODE_TOKENS = (1, 8, 64, 256)
PREFILL_TOKENS = (1024, 4096, 16384)
HIDDEN_SIZES = (2048, 4096, 5120, 8192)
DTYPES = (torch.bfloat16, torch.float16, torch.float32)


def fused_add_rms_norm_reference(
    x: torch.Tensor, residual: torch.Tensor, weight: torch.Tensor, eps: float = 1e-6
) -> torch.Tensor:
    """The formula in float32 on the sum rounded to the input dtype; updates
    ``residual`` in place like the kernel (so it also serves as the fake impl)."""
    summed = (x.float() + residual.float()).to(x.dtype)
    residual.copy_(summed)
    sf = summed.float()
    inv_rms = torch.rsqrt(sf.pow(2).mean(dim=-1, keepdim=True) + eps)
    return (sf * inv_rms * weight.float()).to(x.dtype)


def fused_add_rms_norm_validate(
    x: torch.Tensor, residual: torch.Tensor, weight: torch.Tensor, eps: float = 1e-6
) -> None:
    """``x`` and ``residual`` are [tokens, hidden] of one float dtype, ``weight`` is [hidden],
    all on one kernel device; ``residual`` (written in place) has no overlapping rows."""
    expect_tensor(OP_NAME, "x", x, dtypes=DTYPES, ndim=2)
    expect_tensor(OP_NAME, "residual", residual, dtypes=(x.dtype,), ndim=2, written=True)
    expect_tensor(OP_NAME, "weight", weight, dtypes=DTYPES, ndim=1)
    expect_kernel_device(OP_NAME, x=x, residual=residual, weight=weight)
    expect_size(OP_NAME, "residual", residual, 0, x.shape[0], "the number of tokens of x")
    expect_size(OP_NAME, "residual", residual, 1, x.shape[1], "the hidden size of x")
    expect_size(OP_NAME, "weight", weight, 0, x.shape[1], "the hidden size of x")
    expect_float(OP_NAME, "eps", eps, minimum=0.0)


def fused_add_rms_norm_inputs(
    tokens: tuple[int, ...] = DECODE_TOKENS + PREFILL_TOKENS,
    hidden: tuple[int, ...] = HIDDEN_SIZES,
    dtype: torch.dtype = torch.bfloat16,
    device: str = "cuda",
) -> dict[str, tuple[object, ...]]:
    """``{"hidden=H,numtokens=T": (x, residual, weight, eps)}`` for every pair.

    ``residual`` is updated by every call: take fresh inputs (or clones) per run.
    """
    out: dict[str, tuple[object, ...]] = {}
    for h in hidden:
        weight = torch.randn(h, dtype=dtype, device=device)
        for t in tokens:
            x = torch.randn(t, h, dtype=dtype, device=device)
            residual = torch.randn(t, h, dtype=dtype, device=device)
            out[f"hidden={h},numtokens={t}"] = (x, residual, weight, 1e-6)
    return out


def fused_add_rms_norm_tuning_configs(args: tuple[Any, ...]) -> list[dict[str, Any]]:
    """Candidates for ``helion-ops autotune --effort sweep``: rows per program x
    warps (two rows live per program: x and the residual)."""
    x = args[0]
    return row_configs(int(x.shape[0]), 2 * int(x.shape[1]))

def fused_add_rms_norm_stored_sum(
    x: torch.Tensor, residual: torch.Tensor, weight: torch.Tensor, eps: float = 1e-6
) -> torch.Tensor:
    """The op's variant ``stored_sum``: the sum is stored before the reduction
    and the output computed from it read back. Under a row-loop config
    (``reduction_loops``) Helion's first pass over the row adds, stores the
    sum and accumulates its squares, and the second reads the stored sum (one
    row from L2) where the op's own kernel re-reads x and residual (two):
    Inductor's structure, which on an H100 closed most of the op's gap to
    Inductor at 5120 x 16384 (docs/benchmarks.md, third H100 run). Held
    whole (no row loop, as at decode) it would read back the row it has just
    written, which costs more than it saves; autotune writes it only for the
    keys where it is the faster of the two."""
    m, n = x.size()
    out = torch.empty_like(x)
    for rows in hl.tile(m):
        summed = (x[rows, :].to(torch.float32) + residual[rows, :].to(torch.float32)).to(x.dtype)
        residual[rows, :] = summed
        sf = summed.to(torch.float32)
        inv_rms = torch.rsqrt(torch.mean(sf * sf, dim=-1, keepdim=True) + eps)
        # After the reduction: only the second pass needs the weight.
        scale = weight[None, :].to(torch.float32)
        out[rows, :] = (residual[rows, :].to(torch.float32) * inv_rms * scale).to(out.dtype)
    return out


@register_kernel(
    keys={"hidden": ("x", -1), "numtokens": ("x", 0)},
    reference=fused_add_rms_norm_reference,
    input_generator=fused_add_rms_norm_inputs,
    configs=CONFIG_DIR,
    validate=fused_add_rms_norm_validate,
    tuning_configs=fused_add_rms_norm_tuning_configs,
    variants={"stored_sum": fused_add_rms_norm_stored_sum},
)
def fused_add_rms_norm(x: torch.Tensor, residual: torch.Tensor, weight: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    m, n = x.size()
    out = torch.empty_like(x)
    for rows in hl.tile(m):
        # Loaded before the reduction (see rms_norm: no load moves across its
        # barriers, and at one token its round trip would follow the row's).
        w = weight[None, :].to(torch.float32)
        summed = (x[rows, :].to(torch.float32) + residual[rows, :].to(torch.float32)).to(x.dtype)
        sf = summed.to(torch.float32)
        inv_rms = torch.rsqrt(torch.mean(sf * sf, dim=-1, keepdim=True) + eps)
        # Stored after the reduction on purpose: when a config splits the row
        # into a loop (reduction_loops), Helion reloads x and residual in the
        # second loop; a store placed before the reduction would already have
        # overwritten residual there and the sum would be added twice.
        residual[rows, :] = summed
        out[rows, :] = (sf * inv_rms * w).to(out.dtype)
    return out
