"""The equal-size guard: binding a ``static_shapes=False`` kernel gives equal
sizes one symbol, integer arguments included, and simplifies the host code
under that equality (``n // group`` is 1 when ``group == n``), while later
calls with unequal sizes get the same binding. ``guarded_key`` adds the call's
``equal_size_pattern`` to the kernel's key.

Path: eager calls in Triton's interpreter; every test makes a fresh kernel
(the bug depends on the first call).
"""

from __future__ import annotations

import helion
import pytest
import torch
from kernels_for_tests import _group_sums

_CFG = helion.Config(block_sizes=[4], num_warps=4)
# (rows, columns, group) in call order: the first call has group == columns.
ORDERS = [((4, 64, 64), (2, 96, 32)), ((3, 32, 32), (5, 128, 32), (2, 96, 96))]


def _expected(x: torch.Tensor, group: int) -> torch.Tensor:
    return x.view(x.shape[0], -1, group).sum(-1)


@pytest.mark.parametrize("order", ORDERS, ids=lambda o: "-".join("x".join(map(str, c)) for c in o))
def test_calls_after_a_first_call_with_equal_sizes_are_correct(bridge, order):
    kernel = helion.kernel(_group_sums, static_shapes=False, config=_CFG, key=bridge.guarded_key())
    for rows, cols, group in order:
        x = torch.randn(rows, cols)
        torch.testing.assert_close(kernel(x, group), _expected(x, group))


def test_pattern_tells_equalities_apart_not_values(bridge):
    pattern = bridge.equal_size_pattern
    assert pattern((torch.empty(4, 64), 64)) == (0, 1, 1)
    assert pattern((torch.empty(8, 128), 128)) == (0, 1, 1)
    assert pattern((torch.empty(2, 96), 32)) == (0, 1, 2)
    # Tensors inside lists count; bools and floats are not sizes.
    assert pattern(([torch.empty(3, 3)], True, 3.0, 3)) == (0, 0, 0)


def test_user_key_is_kept(bridge):
    key = bridge.guarded_key(lambda x, group: ("user", group))
    assert key(torch.empty(4, 64), 64)[0] == ("user", 64)
    assert key(torch.empty(4, 64), 64) != key(torch.empty(2, 96), 32)
