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


class _Runner:
    """Stands in for triton 3.6's compiled launcher (``CompiledKernel.run``):
    its ``__call__`` hands the C ``launch`` the grid, stream, function, fixed
    values and the kernel's arguments spread at the end."""

    global_scratch_size = 0
    profile_scratch_size = 0
    launch_cooperative_grid = False
    launch_pdl = False

    def __init__(self) -> None:
        # Launches through the Python layer (a list: the probe runs this code
        # with a stand-in ``self`` that reads, but does not write, our attributes).
        self.python_layer: list[int] = []
        self.launches: list[tuple[Any, ...]] = []  # what reached the C launch

    def launch(self, *args: Any) -> None:
        self.launches.append(args)

    def __call__(self, gx: int, gy: int, gz: int, stream: int, function: Any, *args: Any) -> None:
        self.python_layer.append(gx)
        self.launch(gx, gy, gz, stream, function, self.launch_cooperative_grid, self.launch_pdl, None, None, *args)


class _Compiled:
    """Stands in for triton's CompiledKernel."""

    function = "function-handle"
    packed_metadata = ("packed",)

    def __init__(self, runner: Any = None) -> None:
        self.run = runner if runner is not None else _Runner()


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
    launcher("kernel", (6,), "z", 2, num_warps=4, num_stages=1)
    assert len(fallbacks) == 1
    # The second launch went through the compiled launcher's own code (which
    # showed the C launch's layout), the third straight to the C launch with
    # the same fixed values: grid padded to three dims, the current stream.
    assert len(compiled.run.python_layer) == 1
    head = (False, False, None, None, ("packed",), None, None, None)
    assert compiled.run.launches == [
        (5, 2, 1, 7, "function-handle", *head, "y", 1),
        (6, 1, 1, 7, "function-handle", *head, "z", 2),
    ]
    assert (launcher.direct_launches, launcher.fallback_launches) == (2, 1)


class _TupleArgsRunner(_Runner):
    """triton 3.9's layout: more values, then the kernel's arguments as one tuple."""

    def __call__(self, gx: int, gy: int, gz: int, stream: int, function: Any, *args: Any) -> None:
        self.python_layer.append(gx)
        meta, launch_meta, enter, leave, *kernel_args = args
        self.launch(gx, gy, gz, stream, function, False, False, meta, launch_meta, enter, leave, None, None,
                    ["annotations"], "signature", tuple(kernel_args))


class _ScratchRunner(_Runner):
    global_scratch_size = 128


@pytest.mark.parametrize("runner_type", [_TupleArgsRunner, _ScratchRunner])
def test_unfamiliar_launch_layouts_keep_the_compiled_launcher(runner_type: type[_Runner]) -> None:
    """Where the recorded C launch does not show the kernel's arguments spread
    at the end after fixed values, or the kernel needs scratch buffers (a fresh
    allocation per launch), every launch stays on Triton's compiled launcher."""
    compiled = _Compiled(runner_type())
    launch, function, head = _compat.recorded_raw_launch(compiled, (3, 1, 1), 9, ("x", 5))
    assert len(compiled.run.python_layer) == 1 and len(compiled.run.launches) == 1  # the probe launched, once
    assert launch is compiled.run and function == "function-handle"
    launch(4, 1, 1, 9, function, *head, "y", 6)
    assert len(compiled.run.python_layer) == 2


def test_tritons_own_compiled_launcher_is_probed_not_assumed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The installed triton's real ``CudaLauncher.__call__`` (its Python layer;
    the C function is a recorder here): the probe learns a layout whose replay
    hands the C function exactly what the Python layer would have."""
    driver = pytest.importorskip("triton.backends.nvidia.driver")
    real = object.__new__(driver.CudaLauncher)
    seen: list[tuple[Any, ...]] = []
    for name, value in {
        "num_ctas": 1,
        "global_scratch_size": 0,
        "global_scratch_align": 1,
        "profile_scratch_size": 0,
        "profile_scratch_align": 1,
        "launch_cooperative_grid": False,
        "launch_pdl": False,
        "gsan_enabled": False,
        "arg_annotations": [],
        "kernel_signature": "",
        "launch": lambda *a: seen.append(a),
    }.items():
        setattr(real, name, value)
    compiled = _Compiled(real)
    # triton 3.9's layer asks for the active driver first (none on a CPU
    # machine); it only uses it for features off here.
    monkeypatch.setattr(driver.triton.runtime.driver, "_active", object(), raising=False)
    launch, function, head = _compat.recorded_raw_launch(compiled, (2, 1, 1), 5, ("x", 3))
    launch(4, 1, 1, 5, function, *head, "y", 8)
    via_python_layer = seen[-1]
    real(4, 1, 1, 5, function, compiled.packed_metadata, None, None, None, "y", 8)
    assert via_python_layer == seen[-1]
    assert len(seen) == 3
    # The C function itself is called only where the kernel's arguments come
    # spread at the end (triton 3.5-3.6); otherwise the Python layer stays.
    assert (launch is not real) == (seen[-1][-2:] == ("y", 8))


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
