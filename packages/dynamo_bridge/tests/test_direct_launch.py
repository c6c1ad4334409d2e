"""The eager direct launcher's logic, on CPU with stand-in Triton objects (the
real launch needs a GPU: core's GPU-marked fast-path test and
benchmarks/test_host_overhead.py run it there)."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from bridge_under_test import BRIDGE_MODULE

_compat = importlib.import_module(f"{BRIDGE_MODULE}._compat")
_direct = importlib.import_module(f"{BRIDGE_MODULE}._direct")


class _Compiled:
    """Stands in for triton's CompiledKernel: records direct launches."""

    function = "function-handle"
    packed_metadata = "packed"

    def __init__(self) -> None:
        self.launches: list[tuple[Any, ...]] = []

    def run(self, *args: Any) -> None:
        self.launches.append(args)


@pytest.fixture
def launcher(monkeypatch: pytest.MonkeyPatch) -> Any:
    compiled = _Compiled()
    fallbacks: list[tuple[Any, ...]] = []

    def helion_launcher(kernel: object, grid: tuple[int, ...], *args: object, **options: object) -> _Compiled:
        fallbacks.append((kernel, grid, args, options))
        return compiled

    monkeypatch.setattr(_compat, "helion_default_launcher", lambda: helion_launcher)
    monkeypatch.setattr(_compat, "current_cuda_stream", lambda: (lambda: 7))
    monkeypatch.setattr(_compat, "launch_hooks_check", lambda: (lambda: False))
    return _direct._CompiledLaunches(), compiled, fallbacks


def test_first_launch_goes_through_helion_then_direct(launcher: Any) -> None:
    launcher, compiled, fallbacks = launcher
    launcher("kernel", (4,), "x", 3, num_warps=4, num_stages=1)
    launcher("kernel", (5, 2), "y", 1, num_warps=4, num_stages=1)
    assert len(fallbacks) == 1
    # grid padded to three dims, the current stream, then the kernel's own arguments
    assert compiled.launches == [(5, 2, 1, 7, "function-handle", "packed", None, None, None, "y", 1)]
    assert (launcher.direct_launches, launcher.fallback_launches) == (1, 1)


def test_other_launch_options_keep_helions_path(launcher: Any) -> None:
    launcher, _, _ = launcher
    launcher("kernel", (4,), "x", num_warps=4, num_stages=1)
    launcher("kernel", (4,), "x", num_warps=4, num_stages=1, launch_cooperative_grid=True)
    assert launcher.direct_launches == 0 and launcher.fallback_launches == 2


def test_each_triton_kernel_is_compiled_once_by_its_own_first_launch(launcher: Any) -> None:
    launcher, _, fallbacks = launcher
    for kernel in ("a", "b", "a", "b"):
        launcher(kernel, (1,), num_warps=4, num_stages=1)
    assert [f[0] for f in fallbacks] == ["a", "b"]
    assert launcher.direct_launches == 2


def test_an_empty_hook_chain_is_no_hook() -> None:
    """triton >= 3.5 keeps launch hooks as HookChain objects that are never None:
    an empty chain must not send every launch down Triton's slow path."""
    knobs = pytest.importorskip("triton.knobs")
    active = _compat.launch_hooks_check()
    chain = knobs.runtime.launch_enter_hook
    if not hasattr(chain, "calls"):
        pytest.skip("this triton has no HookChain")
    assert not chain.calls and active() is False
    chain.calls.append(lambda metadata: None)
    try:
        assert active() is True
    finally:
        chain.calls.pop()


def test_plain_next_power_of_2_answers_as_tritons() -> None:
    triton = pytest.importorskip("triton")
    plain = _compat.plain_next_power_of_2()
    if plain is None:
        pytest.skip("this triton's next_power_of_2 has no compile-time wrapper")
    for n in [*range(0, 4100), 5120, 11008, 14336, 2**31 - 1, 2**31, 2**40 + 3]:
        assert plain(n) == triton.next_power_of_2(n), n


def test_host_code_with_plain_helpers_computes_the_same() -> None:
    """The rebuilt host function runs Helion's code with its own globals
    (``triton`` swapped for a view with the plain helper); results, keyword
    defaults and the real ``triton`` module are unchanged."""
    import helion
    import torch
    import triton
    from kernels_for_tests import _CFG, _group_sums

    if not _compat.triton_interpreter_active():
        pytest.skip("runs the host code on CPU: needs TRITON_INTERPRET=1")
    kernel = helion.kernel(_group_sums, static_shapes=False, config=_CFG)
    x = torch.randn(6, 96)
    expected = kernel(x, 32)
    host = _compat.compiled_host_function(kernel, (x, 32))
    fast = _compat.with_plain_triton_helpers(host)
    if _compat.plain_next_power_of_2() is None:
        assert fast is host
        return
    assert fast is not host and fast.__kwdefaults__ == host.__kwdefaults__
    assert fast.__globals__["triton"].next_power_of_2 is _compat.plain_next_power_of_2()
    assert fast.__globals__["triton"].cdiv is triton.cdiv  # everything else is triton's own
    assert host.__globals__["triton"] is triton
    torch.testing.assert_close(fast(x, 32), expected)
    assert _compat.with_plain_triton_helpers(len) is len  # not generated code: unchanged
