"""Plans replaying host code (``_replay``), on CPU with stand-in Triton objects.

The host functions here are written like Helion's generated ones (sizes,
views, empty allocations, one ``_launcher`` call); the C launch is a recorder,
so the tests check what a replay hands it: the current call's addresses at
the recorded offsets, the recorded constants, fresh outputs of the recorded
layout. The real launch runs in core's and the kernels' GPU-marked tests.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

import pytest
import torch
from bridge_under_test import BRIDGE_MODULE

_compat = importlib.import_module(f"{BRIDGE_MODULE}._compat")
_direct = importlib.import_module(f"{BRIDGE_MODULE}._direct")
_replay = importlib.import_module(f"{BRIDGE_MODULE}._replay")

KERNEL = object()  # stands in for a Triton JITFunction
OPTIONS = {"num_warps": 4, "num_stages": 1}


class _Runner:
    """triton 3.6's compiled launcher layout (see test_direct_launch)."""

    global_scratch_size = 0
    profile_scratch_size = 0

    def __init__(self) -> None:
        self.launches: list[tuple[Any, ...]] = []

    def launch(self, *args: Any) -> None:
        self.launches.append(args)

    def __call__(self, gx: int, gy: int, gz: int, stream: int, function: Any, *args: Any) -> None:
        self.launch(gx, gy, gz, stream, function, False, False, None, None, *args)


class _Compiled:
    function = "fn"
    packed_metadata = ("meta",)

    def __init__(self) -> None:
        self.run = _Runner()


HEAD_LEN = 8  # coop, pdl, two scratch, metadata, launch metadata, two hooks


@pytest.fixture
def compiled(monkeypatch: pytest.MonkeyPatch) -> _Compiled:
    compiled = _Compiled()
    monkeypatch.setattr(_compat, "helion_default_launcher", lambda: (lambda kernel, grid, *a, **o: compiled))
    monkeypatch.setattr(_compat, "current_cuda_stream", lambda: (lambda: 7))
    monkeypatch.setattr(_compat, "launch_hooks_check", lambda: (lambda: False))
    return compiled


def _kernel_args(compiled: _Compiled) -> tuple[Any, ...]:
    """The kernel's own arguments of the last launch that reached the C function."""
    return compiled.run.launches[-1][5 + HEAD_LEN :]


def _plan(host: Any) -> Any:
    return _direct._Plan(host, _direct._CompiledLaunches())


def _warm(plan: Any, make_args: Any, calls: int = 3) -> None:
    for _ in range(calls):
        plan(*make_args())


def gated_host(x: torch.Tensor, w: torch.Tensor, eps: float, *, _launcher: Any) -> torch.Tensor:
    """Like silu_and_mul's host code: a view of the input, one allocation."""
    m, two_n = x.size()
    n = two_n // 2
    halves = x.view(m, 2, n)
    out = torch.empty([m, n], dtype=x.dtype, device=x.device)
    _launcher(KERNEL, ((m + 3) // 4,), halves, w, out, out.stride(0), m, n, eps, **OPTIONS)
    return out


def _gated_args() -> tuple[torch.Tensor, torch.Tensor, float]:
    return torch.randn(5, 12), torch.randn(6), 1e-6


def test_a_replay_launches_with_the_current_calls_addresses(compiled: _Compiled) -> None:
    plan = _plan(gated_host)
    _warm(plan, _gated_args)  # compile (Helion), learn the C launch, record
    assert plan.replay is not None
    x, w, eps = _gated_args()
    out = plan(x, w, eps)
    assert out.shape == (5, 6) and out.stride() == (6, 1) and out.dtype == x.dtype
    assert _kernel_args(compiled) == (x.data_ptr(), w.data_ptr(), out.data_ptr(), 6, 5, 6, eps)
    grid_and_stream = compiled.run.launches[-1][:5]
    assert grid_and_stream == (2, 1, 1, 7, "fn")
    assert plan.launcher.direct_launches >= 2
    # The replay is generated straight-line code; recorded values (sizes,
    # grid, scalars, eps) are bound by name, never printed into its source.
    assert "data_ptr()" in plan.replay.source and not re.search(r"(?<!\w)[\d.]", plan.replay.source)


def test_views_are_traced_to_their_own_argument_not_to_a_shared_buffer(compiled: _Compiled) -> None:
    """Recorded with query and key sliced from one buffer; replayed with
    query and key from two buffers (same sizes, strides, alignment): each
    pointer must follow its own argument, at the recorded offset."""

    def host(q: torch.Tensor, k: torch.Tensor, *, _launcher: Any) -> None:
        tail = k[:, 2:]
        _launcher(KERNEL, (1,), q.unsqueeze(0), tail, **OPTIONS)

    def sliced_from_one() -> tuple[torch.Tensor, torch.Tensor]:
        qkv = torch.randn(4, 24)
        return qkv[:, :8], qkv[:, 8:16]

    plan = _plan(host)
    _warm(plan, sliced_from_one)
    assert plan.replay is not None
    a, b = torch.randn(4, 24), torch.randn(4, 24)
    q, k = a[:, :8], b[:, 8:16]
    assert plan(q, k) is None
    assert _kernel_args(compiled) == (q.data_ptr(), k.data_ptr() + 2 * k.element_size())


def test_a_tuple_of_outputs_and_inputs_comes_back_in_order(compiled: _Compiled) -> None:
    def host(x: torch.Tensor, *, _launcher: Any) -> tuple[torch.Tensor, ...]:
        q = torch.empty_like(x)
        scales = torch.empty([x.size(0), 1], dtype=torch.float32, device=x.device)
        _launcher(KERNEL, (x.size(0),), x, q, scales.view(-1), **OPTIONS)
        return (q, scales, x)

    plan = _plan(host)
    _warm(plan, lambda: (torch.randn(3, 4, dtype=torch.float16),))
    x = torch.randn(3, 4, dtype=torch.float16)
    q, scales, same_x = plan(x)
    assert same_x is x and q.dtype == torch.float16 and scales.shape == (3, 1) and scales.dtype == torch.float32
    assert _kernel_args(compiled) == (x.data_ptr(), q.data_ptr(), scales.data_ptr())


def _counting(host: Any) -> tuple[Any, list[int]]:
    calls: list[int] = []

    def counted(*args: Any, _launcher: Any) -> Any:
        calls.append(1)
        return host(*args, _launcher=_launcher)

    return counted, calls


def _zeroed_host(x: torch.Tensor, *, _launcher: Any) -> torch.Tensor:
    out = torch.zeros_like(x)  # a fill: a replay's empty tensor would differ
    _launcher(KERNEL, (1,), x, out, **OPTIONS)
    return out


def _view_returning_host(x: torch.Tensor, *, _launcher: Any) -> torch.Tensor:
    out = torch.empty_like(x)
    _launcher(KERNEL, (1,), x, out, **OPTIONS)
    return out.view(-1)


def _arithmetic_host(x: torch.Tensor, *, _launcher: Any) -> torch.Tensor:
    out = torch.empty_like(x)
    _launcher(KERNEL, (1,), x * 2, out, **OPTIONS)
    return out


def _foreign_constant_host(x: torch.Tensor, *, _launcher: Any) -> torch.Tensor:
    out = torch.empty_like(x)
    _launcher(KERNEL, (1,), x, out, "not a launch constant", **OPTIONS)
    return out


@pytest.mark.parametrize("host", [_zeroed_host, _view_returning_host, _arithmetic_host, _foreign_constant_host])
def test_host_code_doing_more_keeps_running(compiled: _Compiled, host: Any) -> None:
    """A fill, a returned view, arithmetic on an input, a constant that is no
    scalar: no replay; every call runs the host code, recording stops."""
    counted, calls = _counting(host)
    plan = _plan(counted)
    for _ in range(8):
        plan(torch.randn(2, 3))
    assert plan.replay is None and len(calls) == 8
    assert plan._recordings == _replay.MAX_RECORDINGS


def test_one_tensor_passed_twice_is_not_replayed(compiled: _Compiled) -> None:
    def host(a: torch.Tensor, b: torch.Tensor, *, _launcher: Any) -> None:
        _launcher(KERNEL, (1,), a, b, **OPTIONS)

    plan = _plan(host)
    x = torch.randn(2, 3)
    for _ in range(4):
        plan(x, x)
    assert plan.replay is None


def test_a_launch_hook_sends_calls_back_to_the_host_code(compiled: _Compiled) -> None:
    counted, calls = _counting(gated_host)
    plan = _plan(counted)
    _warm(plan, _gated_args)
    assert plan.replay is not None
    before = len(calls)
    plan.launcher.hooks_active = lambda: True  # a profiler set a launch hook
    plan(*_gated_args())
    assert len(calls) == before + 1
    plan.launcher.hooks_active = lambda: False
    plan(*_gated_args())
    assert len(calls) == before + 1


def test_recorded_ops_are_classified() -> None:
    x = torch.randn(4, 6)
    with _compat.recorded_aten_ops() as ops:
        torch.empty_like(x)
        x.view(24)
        x.t()
        x.add(1)
    kinds = [op.kind for op in ops]
    # (a factory's result may reach the caller through a ``detach``: a view too)
    assert kinds[0] == "allocation" and kinds[-1] == "other" and set(kinds[1:-1]) == {"view"}
    flat = next(op for op in ops if op.results() and op.results()[0].shape == (24,))
    assert flat.kind == "view" and flat.source is x
