"""recorded_inductor_launches: the launch configs Inductor kept for the Triton
kernels it loaded inside a block (what a benchmark's Inductor baseline ran)."""

from __future__ import annotations

import types
from typing import Any

import pytest
import torch


def _fake_kernel_module(launchers: list[Any]) -> types.ModuleType:
    """A module of generated code as Inductor loads it: a Triton kernel is an
    object with ``launchers``, each with a ``config`` (plus unrelated names)."""
    module = types.ModuleType("generated")
    module.triton_poi_fused_mul_0 = types.SimpleNamespace(launchers=launchers)  # type: ignore[attr-defined]
    module.helper = len  # type: ignore[attr-defined]
    return module


def _launcher(xblock: int, warps: int, regs: int | None, spills: int | None = None) -> types.SimpleNamespace:
    config = types.SimpleNamespace(kwargs={"XBLOCK": xblock}, num_warps=warps, num_stages=1)
    return types.SimpleNamespace(config=config, n_regs=regs, n_spills=spills)


@pytest.fixture
def loaded_modules(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Inductor's list of loaded modules, replaced by one the test appends to."""
    from torch._inductor.codecache import PyCodeCache

    modules: list[Any] = [_fake_kernel_module([_launcher(1024, 4, 20)])]
    monkeypatch.setattr(PyCodeCache, "modules", modules)
    return modules


def test_only_modules_loaded_inside_the_block_are_described(bridge: Any, loaded_modules: list[Any]) -> None:
    with bridge.recorded_inductor_launches() as launches:
        loaded_modules.append(
            _fake_kernel_module([_launcher(512, 8, 13), _launcher(256, 2, None), _launcher(2048, 4, 255, spills=12)])
        )
        assert launches == []  # filled on leaving the block
    assert launches == [
        "triton_poi_fused_mul_0: XBLOCK=512 num_warps=8 num_stages=1 regs=13",
        "triton_poi_fused_mul_0: XBLOCK=256 num_warps=2 num_stages=1",
        "triton_poi_fused_mul_0: XBLOCK=2048 num_warps=4 num_stages=1 regs=255 spills=12",
    ]


def test_objects_without_launchers_or_a_namespace_are_skipped(bridge: Any, loaded_modules: list[Any]) -> None:
    """Helion's generated modules land in the same list (no launchers); a
    loaded object without a ``__dict__``, or one whose attributes raise, must
    not fail the block's exit."""
    class RaisesOnAnyAttribute:
        def __getattr__(self, name: str) -> Any:
            raise RuntimeError(f"lazy attribute {name} failed")

    raising = types.ModuleType("generated_with_a_lazy_object")
    raising.lazy = RaisesOnAnyAttribute()  # type: ignore[attr-defined]
    with bridge.recorded_inductor_launches() as launches:
        loaded_modules += [types.ModuleType("helion_generated"), 42, _fake_kernel_module([object()]), raising]
    assert launches == []


def test_nothing_new_loaded_records_nothing(bridge: Any, loaded_modules: list[Any]) -> None:
    with bridge.recorded_inductor_launches() as launches:
        pass
    assert launches == []


def test_the_block_raising_still_records(bridge: Any, loaded_modules: list[Any]) -> None:
    with pytest.raises(RuntimeError, match="timing failed"), bridge.recorded_inductor_launches() as launches:
        loaded_modules.append(_fake_kernel_module([_launcher(128, 4, 8)]))
        raise RuntimeError("timing failed")
    assert launches == ["triton_poi_fused_mul_0: XBLOCK=128 num_warps=4 num_stages=1 regs=8"]


def test_without_inductors_module_list_nothing_is_recorded(bridge: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The probe: a torch whose code cache keeps no module list records nothing rather than failing."""
    from torch._inductor.codecache import PyCodeCache

    monkeypatch.delattr(PyCodeCache, "modules")
    with bridge.recorded_inductor_launches() as launches:
        pass
    assert launches == []


def _scaled_sigmoid(x: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid(x) * 2.0


def test_a_cpu_compile_generates_no_triton_to_describe(bridge: Any) -> None:
    """On CPU Inductor generates C++: the block runs, nothing is recorded."""
    compiled = torch.compile(_scaled_sigmoid, dynamic=False)
    with bridge.recorded_inductor_launches() as launches:
        torch.testing.assert_close(compiled(torch.ones(8)), torch.sigmoid(torch.ones(8)) * 2.0)
    assert launches == []


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_cuda_compile_records_the_kept_launch_config(bridge: Any) -> None:
    compiled = torch.compile(_scaled_sigmoid, dynamic=False)
    x = torch.randn(3001, device="cuda")
    with bridge.recorded_inductor_launches() as launches:
        compiled(x)
        torch.cuda.synchronize()
    assert launches and all("num_warps=" in line and ": " in line for line in launches), launches
