"""Platform names: every variant of a chip maps to one config file name."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from helion_ops.core import CPU_PLATFORM, _platform, canonical_platform, current_platform


@pytest.mark.parametrize(
    ("device_name", "expected"),
    [
        # H100: memory size, memory type and form factor are variants.
        ("NVIDIA H100 80GB HBM3", "nvidia_h100"),
        ("H100 PCIe", "nvidia_h100"),
        ("NVIDIA H100 PCIe", "nvidia_h100"),
        ("NVIDIA H100 NVL", "nvidia_h100"),
        ("NVIDIA H100-SXM5-80GB", "nvidia_h100"),
        ("NVIDIA H100 80GB HBM3 MIG 1g.10gb", "nvidia_h100"),
        # H200
        ("NVIDIA H200", "nvidia_h200"),
        ("NVIDIA H200 141GB HBM3e", "nvidia_h200"),
        ("NVIDIA H200 NVL", "nvidia_h200"),
        # Others
        ("NVIDIA A100-SXM4-80GB", "nvidia_a100"),
        ("NVIDIA A100-SXM4-40GB", "nvidia_a100"),
        ("NVIDIA A100 80GB PCIe", "nvidia_a100"),
        ("NVIDIA A100-PCIE-40GB", "nvidia_a100"),
        ("NVIDIA B200", "nvidia_b200"),
        ("  nvidia b200  ", "nvidia_b200"),
    ],
)
def test_canonical_platform(device_name: str, expected: str) -> None:
    assert canonical_platform(device_name) == expected


def test_distinct_chips_stay_distinct() -> None:
    names = ["NVIDIA H100 80GB HBM3", "NVIDIA H200", "NVIDIA A100-SXM4-80GB", "NVIDIA B200"]
    assert len({canonical_platform(n) for n in names}) == len(names)


def test_canonical_platform_is_idempotent() -> None:
    for name in ("NVIDIA H100 80GB HBM3", "NVIDIA H200 141GB HBM3e", "NVIDIA A100-PCIE-40GB"):
        once = canonical_platform(name)
        assert canonical_platform(once) == once


def test_empty_name_is_cpu() -> None:
    assert canonical_platform("   ") == CPU_PLATFORM


def test_current_platform_without_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert current_platform() == "cpu"
    assert CPU_PLATFORM == "cpu"


def test_current_platform_of_cpu_device() -> None:
    assert current_platform("cpu") == "cpu"
    assert current_platform(torch.device("cpu")) == "cpu"
    assert current_platform(torch.device("meta")) == "cpu"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only machine")
def test_current_platform_on_this_machine() -> None:
    assert current_platform() == "cpu"


def test_current_platform_reads_the_cuda_device_name(monkeypatch: pytest.MonkeyPatch) -> None:
    names = {0: "NVIDIA H100 80GB HBM3", 1: "NVIDIA H200 141GB HBM3e"}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)  # so CUDA, not NVML, is asked
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 1)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=None: names[index])
    _platform._device_platform.cache_clear()
    try:
        assert current_platform() == "nvidia_h200"
        assert current_platform("cuda:0") == "nvidia_h100"
        assert current_platform(torch.device("cuda", 1)) == "nvidia_h200"
        # An index-less cuda device means the current device.
        assert current_platform("cuda") == "nvidia_h200"
    finally:
        _platform._device_platform.cache_clear()


class FakeNvml:
    """Stands in for libnvidia-ml: the GPUs' names, and an error code per entry point to fail."""

    def __init__(self, names: list[str], fail: str = "") -> None:
        self.names = names
        self.fail = fail
        self.shutdowns = 0

    def _code(self, entry: str) -> int:
        return 999 if entry == self.fail else 0

    def nvmlInit_v2(self) -> int:
        return self._code("init")

    def nvmlDeviceGetCount_v2(self, count: Any) -> int:
        count.contents.value = len(self.names)
        return self._code("count")

    def nvmlDeviceGetHandleByIndex_v2(self, index: Any, handle: Any) -> int:
        handle.contents.value = index.value + 1
        return self._code("handle")

    def nvmlDeviceGetName(self, handle: Any, buffer: Any, size: Any) -> int:
        buffer.value = self.names[handle.value - 1].encode()[: size.value - 1]
        return self._code("name")

    def nvmlShutdown(self) -> int:
        self.shutdowns += 1
        return 0


def test_nvml_names_every_gpu_and_shuts_down() -> None:
    from helion_ops.core._nvml import gpu_names

    lib = FakeNvml(["NVIDIA H100 80GB HBM3", "NVIDIA H200"])
    assert gpu_names(lib) == ["NVIDIA H100 80GB HBM3", "NVIDIA H200"]
    assert lib.shutdowns == 1


@pytest.mark.parametrize("fail", ["count", "handle", "name"])
def test_an_nvml_error_reads_as_unknown(fail: str) -> None:
    from helion_ops.core._nvml import gpu_names

    lib = FakeNvml(["NVIDIA H100 80GB HBM3"], fail=fail)
    assert gpu_names(lib) is None
    assert lib.shutdowns == 1


def test_nvml_that_cannot_start_reads_as_unknown() -> None:
    from helion_ops.core._nvml import gpu_names

    lib = FakeNvml(["NVIDIA H100 80GB HBM3"], fail="init")
    assert gpu_names(lib) is None
    assert lib.shutdowns == 0  # nothing to shut down


def _fake_gpu_host(monkeypatch: pytest.MonkeyPatch, nvml_names: list[str] | None, initialized: bool) -> list[str]:
    """CUDA available on a host whose GPUs NVML names; records each use of CUDA to read a name."""
    asked: list[str] = []

    def cuda_device() -> int:
        asked.append("current_device")
        return 0

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: initialized)
    monkeypatch.setattr(torch.cuda, "current_device", cuda_device)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=None: "NVIDIA H200 141GB HBM3e")
    monkeypatch.setattr(_platform, "gpu_names", lambda: nvml_names)
    _platform.host_platform.cache_clear()
    _platform._device_platform.cache_clear()
    return asked


@pytest.fixture
def _clear_platform_caches() -> Any:
    yield
    _platform.host_platform.cache_clear()
    _platform._device_platform.cache_clear()


@pytest.mark.usefixtures("_clear_platform_caches")
def test_platform_of_a_host_of_one_kind_comes_from_nvml_without_initialising_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    asked = _fake_gpu_host(monkeypatch, ["NVIDIA H100 80GB HBM3"] * 8, initialized=False)
    assert current_platform() == "nvidia_h100"
    assert asked == []


@pytest.mark.usefixtures("_clear_platform_caches")
@pytest.mark.parametrize(
    ("nvml_names", "initialized"),
    [
        pytest.param(["NVIDIA H100 80GB HBM3", "NVIDIA H200"], False, id="two-platforms"),
        pytest.param(None, False, id="no-nvml"),
        pytest.param(["NVIDIA H100 80GB HBM3"], True, id="cuda-already-initialised"),
    ],
)
def test_platform_comes_from_cuda_where_nvml_cannot_tell_or_cuda_is_up(
    monkeypatch: pytest.MonkeyPatch, nvml_names: list[str] | None, initialized: bool
) -> None:
    asked = _fake_gpu_host(monkeypatch, nvml_names, initialized=initialized)
    assert current_platform() == "nvidia_h200"  # the (fake) current CUDA device's name
    assert asked == ["current_device"]
