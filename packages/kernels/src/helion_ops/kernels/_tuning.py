"""Candidate configs for ``helion-ops autotune --effort sweep``, by kernel shape.

The ops are memory-bound, so what matters is how much of a row (or tile) one
program holds and how many threads share it: enough elements per thread for
wide loads and several loads in flight, few enough to stay in registers, and
enough programs to fill the GPU. Each function lists partial configs within
those limits (Helion completes each; the autotuner drops those the kernel
refuses); the sweep then checks and times them on the GPU.
"""

from __future__ import annotations

from typing import Any

WARPS = (2, 4, 8, 16)
# Rows held whole may take a full 1024-thread program: at intermediate 11008
# (padded to 16384 per half) a 16-warp program holds 64 float32 values per
# thread; with 32 warps, silu_and_mul_fp8_quant at 11008 x 16384 went from
# 400 to 370 us on the H200 (the 2026-11-28 tuning run's default vs tuned).
ROW_WARPS = (*WARPS, 32)
# Chunks of a row loop (``reduction_loops``): the row is read twice (the
# second time mostly from L2) with few registers, so several programs share an SM.
ROW_CHUNKS = (1024, 2048, 4096)
THREADS_PER_WARP = 32
# The largest token count tuned as decode (CUDA-graph timing, helion-ops bench's split too).
DECODE_MAX_TOKENS = 256
# Elements one thread holds: from one 16-byte bf16 vector's worth up to what
# fits in registers next to the float32 math.
MIN_PER_THREAD, MAX_PER_THREAD = 4, 64


def next_power_of_2(n: int) -> int:
    return 1 if n <= 1 else 1 << (int(n) - 1).bit_length()


def _fits(elements: int, warps: int) -> bool:
    per_thread = elements / (warps * THREADS_PER_WARP)
    return MIN_PER_THREAD <= per_thread <= MAX_PER_THREAD


def row_configs(tokens: int, row: int) -> list[dict[str, Any]]:
    """Kernels tiling tokens with whole rows in one program (``hl.tile(m)`` and
    a row reduction): rows per program x warps, plus row loops for long rows."""
    width = next_power_of_2(row)
    found: list[dict[str, Any]] = []
    for rows in (1, 2, 4, 8, 16):
        if rows > next_power_of_2(tokens):
            break
        for warps in ROW_WARPS:
            if _fits(rows * width, warps):
                found.append({"block_sizes": [rows], "reduction_loops": [None], "num_warps": warps})
    if width >= 8192:
        # Long rows: loop over chunks (two passes over the row, fewer registers).
        for chunk in ROW_CHUNKS:
            for warps in (4, 8, 16):
                found.append({"block_sizes": [1], "reduction_loops": [chunk], "num_warps": warps})
    return found


def _tiles(tokens: int, columns: int, inner: int, halves: bool = False) -> list[tuple[int, int, int]]:
    """(rows, columns, warps) per program: 1024 to 4096 elements and 8 per
    thread; for a single token also smaller tiles (256 and 512 elements, so it
    still spreads over many programs); for decode (<= 256 tokens) also 16
    elements per thread and 8192-element tiles (on the H200, silu_and_mul at
    256 tokens stayed at 0.86-0.91x Inductor with the 8-per-thread tiles).

    ``halves``: the kernel loads each column in two halves (rotary's x1 and
    x2), so 8 elements per thread are two 4-element (8-byte bf16) loads; such
    kernels also get 16 per thread at every token count, one 16-byte vector
    per half (the H200's rotary at 16384 tokens stayed at 89-90% of the copy
    ceiling with 8-byte loads)."""
    if tokens == 1:
        sizes: tuple[int, ...] = (256, 512, 1024, 2048, 4096)
    elif tokens <= DECODE_MAX_TOKENS:
        sizes = (1024, 2048, 4096, 8192)
    else:
        sizes = (1024, 2048, 4096)
    per_thread_options = (8, 16) if halves or tokens <= DECODE_MAX_TOKENS else (8,)
    found = []
    for elements in sizes:
        for rows in (1, 2, 4, 8):
            cols, rest = divmod(elements, rows * inner)
            if rows > next_power_of_2(tokens) or rest or cols < 1 or cols > next_power_of_2(columns):
                continue
            for per_thread in per_thread_options:
                warps = elements // (per_thread * THREADS_PER_WARP)
                if 1 <= warps <= 16:
                    found.append((rows, cols, warps))
    return found


def tile_configs(tokens: int, columns: int, inner: int = 1) -> list[dict[str, Any]]:
    """Kernels tiling [tokens, columns], each column ``inner`` elements wide (a
    quantisation group, say): tile shapes x warps."""
    return [{"block_sizes": [rows, cols], "num_warps": warps} for rows, cols, warps in _tiles(tokens, columns, inner)]


def rotary_configs(tokens: int, query_heads: int, key_heads: int, head_size: int) -> list[dict[str, Any]]:
    """The rotary kernel's two loops (tokens x query heads, tokens x key heads),
    one tile shape each: the key loop takes the query loop's tile with its heads
    capped at the key heads."""
    key_cap = next_power_of_2(key_heads)
    return [
        {"block_sizes": [rows, heads, rows, min(heads, key_cap)], "num_warps": warps}
        for rows, heads, warps in _tiles(tokens, query_heads, head_size, halves=True)
    ]
