"""silu_and_mul_fp8_quant: ``silu(x[:, :N]) * x[:, N:]`` quantised to float8_e4m3fn per token.

The gated activation of a SwiGLU MLP feeding an fp8 down projection: one
pass produces ``q`` [tokens, N] (float8_e4m3fn) and ``scales`` [tokens, 1]
(float32) with ``q * scales ~= silu(gate) * up``. Per row:

- ``y = silu(gate) * up`` in float32, then rounded to the input dtype, as
  vLLM does (its activation writes ``y`` in the input dtype before the
  quantiser reads it), so the two agree on which values the scale covers;
- ``scale = max(amax(|y|) / 448, MIN_SCALE)``: 448 is float8_e4m3fn's largest
  finite value; the floor keeps an all-zero row from dividing by zero (its
  ``q`` is 0);
- ``q = clamp(y / scale, -448, 448)`` rounded to nearest (even) e4m3.

The kernel leaves the clamp out, as per_token_group_fp8_quant's does (the
comment there says why it cannot change a code); the reference keeps the
formula as written.

A row is one reduction (the amax) followed by the elementwise quantisation,
so the kernel tiles tokens and takes the whole row as the reduction
dimension, like rms_norm: with the row in registers, ``x`` is read once.
Configs with ``reduction_loops`` split long rows into a loop that reads the
row a second time after the amax.

One module per op: the Helion kernel (registered through core), the
pure-PyTorch reference (imports without a GPU), the input generator, the
input check and the config key (intermediate size N, then number of tokens).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import helion.language as hl
import torch

from helion_ops.core import expect_divisible, expect_kernel_device, expect_tensor, register_kernel

from ._silu_and_mul import DECODE_TOKENS, DTYPES, INTERMEDIATE_SIZES, LOG2E, PREFILL_TOKENS, intermediate_config_picker
from ._silu_and_mul import silu_and_mul_inputs as _silu_and_mul_inputs
from ._tuning import row_configs

OP_NAME = "silu_and_mul_fp8_quant"
CONFIG_DIR = Path(__file__).parent / "configs"
FP8_DTYPE = torch.float8_e4m3fn
FP8_MAX = 448.0  # torch.finfo(torch.float8_e4m3fn).max
# Floor of the scale: it only acts on rows with amax(|y|) < 448e-10 (in
# practice all-zero rows, whose q is then 0), every other row gets its exact scale.
MIN_SCALE = 1e-10
# On the H200 the kernel is issue-bound at intermediate 11008 (each half of
# a row is padded to 16384 lanes), and Triton's float32 division
# (div.full.f32) rescales a divisor outside [2**-126, 2**126]: a compare and
# two predicated multiplies per element beside the reciprocal. So silu
# divides by libdevice's fast_dividef (div.approx.f32: a reciprocal and a
# multiply; for a gate below about -87 its divisor passes 2**126 and the
# quotient is -0, where silu is below 1e-36 in magnitude and quantises to 0
# either way), and the quantisation multiplies by the row scale's
# reciprocal (one division per row). sm_90 SASS at 11008, 32 warps: 24.8 ->
# 20.4 instructions per element (tools/sass_count.py). On an H100 the
# stored configs are memory-bound: within 0.3% of the row reciprocal alone
# (docs/benchmarks.md); the H200, where the division was issue-bound, has
# not timed this kernel yet. In Triton's interpreter fast_dividef is a plain
# division (core's enable_interpreter_libdevice).
_FAST_DIVIDE = "libdevice.fast_dividef({0}, {1})"


def silu_and_mul_fp8_quant_reference(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The formula in float32 (``y`` rounded to the input dtype first)."""
    gate, up = x.float().chunk(2, dim=-1)
    y = (gate * torch.sigmoid(gate) * up).to(x.dtype).float()
    scales = torch.clamp(y.abs().amax(dim=-1, keepdim=True) / FP8_MAX, min=MIN_SCALE)
    q = torch.clamp(y / scales, -FP8_MAX, FP8_MAX).to(FP8_DTYPE)
    return q, scales


def silu_and_mul_fp8_quant_validate(x: torch.Tensor) -> None:
    """``x`` is [tokens, 2N] of a float dtype on a kernel device, its last dimension contiguous."""
    expect_tensor(OP_NAME, "x", x, dtypes=DTYPES, ndim=2)
    expect_kernel_device(OP_NAME, x=x)
    expect_divisible(OP_NAME, "x", x, -1, 2)


def silu_and_mul_fp8_quant_inputs(
    tokens: tuple[int, ...] = DECODE_TOKENS + PREFILL_TOKENS,
    hidden: tuple[int, ...] = INTERMEDIATE_SIZES,
    dtype: torch.dtype = torch.bfloat16,
    device: str = "cuda",
) -> dict[str, tuple[object, ...]]:
    """``{"intermediate=N,numtokens=T": (x,)}`` with ``x`` of shape [T, 2N]
    (the inputs of silu_and_mul); ``hidden`` holds the intermediate sizes N."""
    return _silu_and_mul_inputs(tokens=tokens, hidden=hidden, dtype=dtype, device=device)


def silu_and_mul_fp8_quant_tuning_configs(args: tuple[Any, ...]) -> list[dict[str, Any]]:
    """Candidates for ``helion-ops autotune --effort sweep``: rows per program x
    warps (a program holds the gate and the up half of its rows)."""
    x = args[0]
    return row_configs(int(x.shape[0]), int(x.shape[1]))

@register_kernel(
    config_picker=intermediate_config_picker,
    reference=silu_and_mul_fp8_quant_reference,
    input_generator=silu_and_mul_fp8_quant_inputs,
    configs=CONFIG_DIR,
    validate=silu_and_mul_fp8_quant_validate,
    tuning_configs=silu_and_mul_fp8_quant_tuning_configs,
)
def silu_and_mul_fp8_quant(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    m, two_n = x.size()
    n = two_n // 2
    # [tokens, 2, N]: the gate and the up half index the same columns.
    halves = x.view(m, 2, n)
    q = torch.empty([m, n], dtype=FP8_DTYPE, device=x.device)
    scales = torch.empty([m, 1], dtype=torch.float32, device=x.device)
    for rows in hl.tile(m):
        gate = halves[rows, 0, :].to(torch.float32)
        up = halves[rows, 1, :].to(torch.float32)
        # silu by exp2 and one fast division (see silu_and_mul's LOG2E and
        # _FAST_DIVIDE); g is divided before u multiplies it (-0, not NaN,
        # for a gate far below zero).
        denominator = 1.0 + torch.exp2(gate * -LOG2E)
        silu = hl.inline_triton(_FAST_DIVIDE, args=(gate, denominator), output_like=gate)
        act = (silu * up).to(x.dtype).to(torch.float32)
        row_scale = torch.clamp(torch.amax(torch.abs(act), dim=-1, keepdim=True) / FP8_MAX, min=MIN_SCALE)
        # No clamp to +-448 (a no-op here; see the per_token_group_fp8_quant kernel).
        q[rows, :] = (act * (1.0 / row_scale)).to(FP8_DTYPE)
        scales[rows, :] = row_scale
    return q, scales
