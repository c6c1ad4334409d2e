"""Platform names: every variant of a chip maps to one config file name."""

from __future__ import annotations

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
