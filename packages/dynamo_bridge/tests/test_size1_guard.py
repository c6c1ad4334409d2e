"""The size-1 guard: helion 1.1-1.4 hand the binding made for a first call
with a size-1 dimension to later calls with larger sizes (a
``static_shapes=False`` kernel then writes only the first row). The bridge
probes for it and, where present, ``size1_guarded_key`` puts a 0/1/>=2 bucket
of every dimension into the kernel's key.

Paths: eager calls in Triton's interpreter, and the custom op under
``aot_eager`` with ``dynamic=True`` (the kernel runs eagerly inside the graph).
Every test makes fresh kernels: the bug depends on the first call.
"""

from __future__ import annotations

import importlib

import helion
import pytest
import torch
from bridge_under_test import BRIDGE_MODULE
from kernels_for_tests import _CFG, _scale_rows

# Row counts in call order: size 1 first, as an inference engine warms up.
ORDERS = [(1, 8, 37), (1, 2, 130)]


def _guarded_kernel(bridge):
    return helion.kernel(_scale_rows, static_shapes=False, config=_CFG, key=bridge.size1_guarded_key())


def _results_after_size1_first(kernel, order):
    """(got, expected) per call, in call order."""
    out = []
    for rows in order:
        x = torch.randn(rows, 8)
        out.append((kernel(x, 2.0), x * 2.0))
    return out


@pytest.mark.parametrize("order", ORDERS, ids=lambda o: "-".join(map(str, o)))
def test_size1_first_then_larger_sizes_eager(bridge, order):
    """Eager interpreter path, with the key the bridge makes."""
    for got, expected in _results_after_size1_first(_guarded_kernel(bridge), order):
        torch.testing.assert_close(got, expected)


@pytest.mark.parametrize("order", ORDERS, ids=lambda o: "-".join(map(str, o)))
def test_size1_first_then_larger_sizes_custom_op_aot_eager(bridge, order):
    """Custom op under aot_eager, dynamic shapes: the graph calls the kernel
    eagerly, so the first call decides its binding there too."""
    kernel = _guarded_kernel(bridge)
    name = f"size1_scale_rows_{order[-1]}"
    bridge.prepare_kernel(kernel, op_name=name, namespace="helion_ops_tests")
    op = getattr(torch.ops.helion_ops_tests, name).default
    compiled = torch.compile(lambda x: op(x, 2.0), backend="aot_eager", fullgraph=True, dynamic=True)
    for rows in order:
        x = torch.randn(rows, 8)
        torch.testing.assert_close(compiled(x), x * 2.0)


def test_key_unchanged_where_no_guard_is_needed(bridge):
    def user_key(*args):
        return "user"

    key = bridge.size1_guarded_key(user_key)
    if not bridge.size1_guard_needed():
        assert key is user_key
    else:
        x = torch.empty(1, 8)
        assert key(x, 2.0) == ("user", ((1, 2),))
        assert key(torch.empty(9, 8), 2.0) != key(x, 2.0)


@pytest.fixture
def guard_off():
    compat = importlib.import_module(BRIDGE_MODULE + "._compat")
    before = compat.size1_guard_forced_off()
    compat.set_size1_guard_forced_off(True)
    yield
    compat.set_size1_guard_forced_off(before)


def test_probe_matches_what_the_interpreter_computes(bridge, guard_off):
    """Without the guard, results after a size-1 first call are wrong exactly
    where the probe says helion reuses the size-1 binding (the capability
    record's ``size1_guard``)."""
    kernel = _guarded_kernel(bridge)  # guard off: helion's own key
    results = _results_after_size1_first(kernel, ORDERS[0])
    later_calls_correct = all(torch.allclose(got, expected) for got, expected in results[1:])
    assert later_calls_correct is not bridge.capabilities().size1_guard
