"""rotary_embedding: NeoX-style rotary position embedding, in place on query and key.

For every token ``t`` and head, with ``x1``/``x2`` the first/second half of the
head and ``cos``/``sin`` the two halves of ``cos_sin_cache[positions[t]]``:
``x1, x2 <- x1 * cos - x2 * sin, x2 * cos + x1 * sin`` (full rotary: the
rotated width is the head size). Math in float32, results cast back.
Positions are not range-checked (that would need a device sync): they must
lie in ``[0, cos_sin_cache.size(0))``.

One module per op: the Helion kernel (registered through core), the
pure-PyTorch reference (imports without a GPU; it mutates in place exactly as
the kernel does and also serves as the fake impl), the input generator, the
input check and the config key (query width, then number of tokens).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import helion.language as hl
import torch

from helion_ops.core import (
    InputValidationError,
    expect_divisible,
    expect_int,
    expect_kernel_device,
    expect_size,
    expect_tensor,
    register_kernel,
)

from ._tuning import rotary_configs

OP_NAME = "rotary_embedding"
CONFIG_DIR = Path(__file__).parent / "configs"
DECODE_TOKENS = (1, 8, 64, 256)
PREFILL_TOKENS = (1024, 4096, 16384)
HIDDEN_SIZES = (2048, 4096, 5120, 8192)
HEAD_SIZE = 128
MAX_POSITIONS = 8192
ROPE_BASE = 10000.0
INPUT_DTYPES = (torch.bfloat16, torch.float16, torch.float32)
POSITION_DTYPES = (torch.int64, torch.int32)


def rotary_embedding_reference(
    positions: torch.Tensor,
    query: torch.Tensor,
    key: torch.Tensor,
    cos_sin_cache: torch.Tensor,
    head_size: int,
) -> None:
    """The formula in float32, written back into ``query`` and ``key``."""
    half = head_size // 2
    cos_sin = cos_sin_cache[positions].float()
    cos = cos_sin[:, None, :half]
    sin = cos_sin[:, None, half:]
    for states in (query, key):
        # Sizes spelled out (no -1): zero tokens must reshape too.
        heads = states.float().reshape(states.size(0), states.size(1) // head_size, head_size)
        x1, x2 = heads[..., :half], heads[..., half:]
        rotated = torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)
        states.copy_(rotated.reshape(states.shape))


def validate_rotary_embedding(
    positions: Any, query: Any, key: Any, cos_sin_cache: Any, head_size: Any
) -> None:
    """Token counts agree, query/key widths are whole (even) heads, the cache rows are one head wide,
    all on one kernel device; query and key (written in place) have no overlapping rows."""
    expect_tensor(OP_NAME, "positions", positions, dtypes=POSITION_DTYPES, ndim=1, unit_last_stride=False)
    expect_tensor(OP_NAME, "query", query, dtypes=INPUT_DTYPES, ndim=2, written=True)
    expect_tensor(OP_NAME, "key", key, dtypes=(query.dtype,), ndim=2, written=True)
    expect_tensor(OP_NAME, "cos_sin_cache", cos_sin_cache, dtypes=_cache_dtypes(query.dtype), ndim=2)
    expect_kernel_device(OP_NAME, positions=positions, query=query, key=key, cos_sin_cache=cos_sin_cache)
    expect_int(OP_NAME, "head_size", head_size)
    if head_size <= 0 or head_size % 2 != 0:
        raise InputValidationError(
            f"op {OP_NAME!r}: argument 'head_size' must be a positive even number (NeoX rotary rotates two "
            f"halves), found {head_size}"
        )
    expect_size(OP_NAME, "positions", positions, 0, query.shape[0], "one position per token of query")
    expect_size(OP_NAME, "key", key, 0, query.shape[0], "as many tokens as query")
    expect_divisible(OP_NAME, "query", query, 1, head_size)
    expect_divisible(OP_NAME, "key", key, 1, head_size)
    expect_size(OP_NAME, "cos_sin_cache", cos_sin_cache, 1, head_size, "cos then sin, head_size // 2 each")
    if query.shape[0] > 0 and cos_sin_cache.shape[0] == 0:
        raise InputValidationError(
            f"op {OP_NAME!r}: argument 'cos_sin_cache' must have a row for every position, found 0 rows "
            f"for {query.shape[0]} tokens"
        )


def _cache_dtypes(query_dtype: torch.dtype) -> tuple[torch.dtype, ...]:
    return (torch.float32,) if query_dtype == torch.float32 else (torch.float32, query_dtype)


def rope_cos_sin_cache(
    max_positions: int, head_size: int, dtype: torch.dtype, device: str, base: float = ROPE_BASE
) -> torch.Tensor:
    """``[max_positions, head_size]``: ``cos(p * f)`` then ``sin(p * f)`` for ``f = base ** (-2i / head_size)``."""
    exponents = torch.arange(0, head_size, 2, dtype=torch.float32, device=device) / head_size
    inv_freq = torch.exp(-math.log(base) * exponents)
    angles = torch.arange(max_positions, dtype=torch.float32, device=device)[:, None] * inv_freq[None, :]
    return torch.cat([angles.cos(), angles.sin()], dim=-1).to(dtype)


def rotary_embedding_inputs(
    tokens: tuple[int, ...] = DECODE_TOKENS + PREFILL_TOKENS,
    hidden: tuple[int, ...] = HIDDEN_SIZES,
    dtype: torch.dtype = torch.bfloat16,
    device: str = "cuda",
) -> dict[str, tuple[object, ...]]:
    """``{"hidden=H,numtokens=T": (positions, query, key, cos_sin_cache, head_size)}``.

    ``H`` is the query width: ``H // 128`` query heads of 128 (one head of
    ``H`` when ``H < 128``), a quarter as many key heads (at least one), random
    positions below 8192 and a cache in the input dtype.
    """
    out: dict[str, tuple[object, ...]] = {}
    for h in hidden:
        head_size = min(HEAD_SIZE, h)
        num_kv_heads = max(1, h // head_size // 4)
        cache = rope_cos_sin_cache(MAX_POSITIONS, head_size, dtype, device)
        for t in tokens:
            positions = torch.randint(0, MAX_POSITIONS, (t,), dtype=torch.int64, device=device)
            query = torch.randn(t, h, dtype=dtype, device=device)
            key = torch.randn(t, num_kv_heads * head_size, dtype=dtype, device=device)
            out[f"hidden={h},numtokens={t}"] = (positions, query, key, cache, head_size)
    return out


def rotary_embedding_tuning_configs(args: tuple[Any, ...]) -> list[dict[str, Any]]:
    """Candidates for ``helion-ops autotune --effort sweep``: [tokens, heads] tiles x warps."""
    _, query, key, _, head_size = args
    return rotary_configs(int(query.shape[0]), int(query.shape[1]) // head_size, int(key.shape[1]) // head_size, head_size)

@register_kernel(
    keys={"hidden": ("query", -1), "numtokens": ("query", 0)},
    reference=rotary_embedding_reference,
    input_generator=rotary_embedding_inputs,
    configs=CONFIG_DIR,
    validate=validate_rotary_embedding,
    tuning_configs=rotary_embedding_tuning_configs,
    # The kernel writes through views of query and key, which the bridge's
    # source scan (subscript assignments to parameters) does not see.
    mutates_args=("query", "key"),
)
def rotary_embedding(
    positions: torch.Tensor,
    query: torch.Tensor,
    key: torch.Tensor,
    cos_sin_cache: torch.Tensor,
    head_size: int,
) -> None:
    num_tokens = query.size(0)
    half = head_size // 2
    # Host-side views [tokens, heads, 2, half] (and [positions, 2, half]) make
    # each half an axis of its own: no slicing at a runtime offset on device.
    query_halves = query.view(num_tokens, query.size(1) // head_size, 2, half)
    key_halves = key.view(num_tokens, key.size(1) // head_size, 2, half)
    cache_halves = cos_sin_cache.view(cos_sin_cache.size(0), 2, half)
    # Two loops, one launch (Helion splits the program ids between them):
    # tiles of tokens x query heads, then tokens x key heads, so that even one
    # token spreads over as many programs as its heads allow.
    for q_tokens, q_heads in hl.tile([num_tokens, query_halves.size(1)]):
        q_pos = positions[q_tokens]
        q_cos = cache_halves[q_pos, 0, :].to(torch.float32)[:, None, :]
        q_sin = cache_halves[q_pos, 1, :].to(torch.float32)[:, None, :]
        q_x1 = query_halves[q_tokens, q_heads, 0, :].to(torch.float32)
        q_x2 = query_halves[q_tokens, q_heads, 1, :].to(torch.float32)
        query_halves[q_tokens, q_heads, 0, :] = (q_x1 * q_cos - q_x2 * q_sin).to(query.dtype)
        query_halves[q_tokens, q_heads, 1, :] = (q_x2 * q_cos + q_x1 * q_sin).to(query.dtype)
    for k_tokens, k_heads in hl.tile([num_tokens, key_halves.size(1)]):
        k_pos = positions[k_tokens]
        k_cos = cache_halves[k_pos, 0, :].to(torch.float32)[:, None, :]
        k_sin = cache_halves[k_pos, 1, :].to(torch.float32)[:, None, :]
        k_x1 = key_halves[k_tokens, k_heads, 0, :].to(torch.float32)
        k_x2 = key_halves[k_tokens, k_heads, 1, :].to(torch.float32)
        key_halves[k_tokens, k_heads, 0, :] = (k_x1 * k_cos - k_x2 * k_sin).to(key.dtype)
        key_halves[k_tokens, k_heads, 1, :] = (k_x2 * k_cos + k_x1 * k_sin).to(key.dtype)
