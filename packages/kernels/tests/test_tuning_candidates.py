"""Each op's sweep candidates (``helion-ops autotune --effort sweep``) are
configs its kernel accepts, at the widths of real models.

The sweep silently skips a candidate the kernel refuses (so one shape's
invalid tile does not end its job); this test keeps the lists free of such
dead entries, which would otherwise hide a typo that drops a whole family of
configs. Binding and ``normalize`` need no GPU: CPU tensors of a few tokens at
each op's full widths.
"""

from __future__ import annotations

from typing import Any

import helion
import pytest
import torch
from _checks import OP_NAMES, op_module, op_wrapper

from helion_ops.kernels import _tuning

TOKENS = (1, 3, 256)


def _shapes(op_name: str) -> dict[str, tuple[Any, ...]]:
    module = op_module(op_name)
    generator = getattr(module, f"{op_name}_inputs")
    return generator(tokens=TOKENS, dtype=torch.bfloat16, device="cpu")


@pytest.mark.parametrize("op_name", OP_NAMES)
def test_every_candidate_is_a_config_the_kernel_accepts(op_name: str):
    wrapper = op_wrapper(op_name)
    shapes = _shapes(op_name)
    assert shapes, f"{op_name}: the input generator made no shapes"
    for shape, args in shapes.items():
        candidates = wrapper.tuning_configs(args)
        assert len(candidates) >= 2, f"{op_name} {shape}: {candidates}"
        bound = helion.kernel(wrapper.raw_kernel_func, static_shapes=False).bind(args)
        for partial in candidates:
            bound.config_spec.normalize(helion.Config(**partial))  # raises for a config the kernel refuses


def test_row_candidates_hold_between_4_and_64_elements_per_thread():
    for tokens, row in ((1, 2048), (256, 5120), (4096, 22016)):
        for config in _tuning.row_configs(tokens, row):
            if config["reduction_loops"] != [None]:
                continue
            held = config["block_sizes"][0] * _tuning.next_power_of_2(row)
            per_thread = held / (config["num_warps"] * _tuning.THREADS_PER_WARP)
            assert _tuning.MIN_PER_THREAD <= per_thread <= _tuning.MAX_PER_THREAD, (tokens, row, config)


def test_long_rows_get_full_size_programs_and_row_loops():
    configs = _tuning.row_configs(4096, 2 * 11008)
    whole = [c for c in configs if c["reduction_loops"] == [None]]
    assert {"block_sizes": [1], "reduction_loops": [None], "num_warps": 32} in whole
    assert {c["reduction_loops"][0] for c in configs if c not in whole} == set(_tuning.ROW_CHUNKS)


def test_short_rows_get_no_row_loops_and_one_token_one_row():
    assert all(c["reduction_loops"] == [None] for c in _tuning.row_configs(4096, 2048))
    assert {c["block_sizes"][0] for c in _tuning.row_configs(1, 8192)} == {1}


def test_decode_tiles_also_hold_16_elements_per_thread_and_prefill_tiles_8():
    for tokens, per_thread in ((1, {8, 16}), (256, {8, 16}), (4096, {8})):
        tiles = _tuning._tiles(tokens, 8192, 1)
        found = {rows * cols // (warps * _tuning.THREADS_PER_WARP) for rows, cols, warps in tiles}
        assert found == per_thread, (tokens, tiles)
    assert max(rows * cols for rows, cols, _ in _tuning._tiles(256, 8192, 1)) == 8192
    assert max(rows * cols for rows, cols, _ in _tuning._tiles(4096, 8192, 1)) == 4096


def test_tiles_loaded_in_halves_also_hold_16_elements_per_thread_at_prefill():
    """Rotary loads each head in two halves: 16 per thread makes each half's
    share one 16-byte bf16 vector, at every token count."""
    tiles = _tuning._tiles(16384, 16, 128, halves=True)
    assert {rows * cols * 128 // (warps * _tuning.THREADS_PER_WARP) for rows, cols, warps in tiles} == {8, 16}
    configs = _tuning.rotary_configs(16384, 16, 4, 128)
    assert {"block_sizes": [8, 1, 8, 1], "num_warps": 2} in configs
    assert {"block_sizes": [8, 1, 8, 1], "num_warps": 4} in configs
