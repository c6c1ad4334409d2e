"""Canonical platform names for config files: ``nvidia_h100``, ``nvidia_h200``, ``cpu``.

The same rule as vLLM's: lower case, spaces and dashes to underscores, and the
variant suffixes (memory size and type, form factor) dropped, so that every
H100 variant shares ``nvidia_h100.json``.
"""

from __future__ import annotations

import functools
import re

import torch

from ._nvml import gpu_names

CPU_PLATFORM = "cpu"

# Suffix words that name a variant of the same chip, not another chip.
_VARIANT_WORDS = re.compile(
    r"_(?:\d+gb|hbm\d*e?|pcie|sxm\d*|nvl|mig.*|\d+c|\d+g\.\d+gb)(?=_|$)"
)


def canonical_platform(device_name: str) -> str:
    """``"NVIDIA H100 80GB HBM3"`` -> ``"nvidia_h100"``; ``"H100 PCIe"`` -> ``"nvidia_h100"``."""
    name = device_name.strip().lower()
    name = re.sub(r"[\s\-]+", "_", name)
    name = re.sub(r"[^a-z0-9_.]", "", name)
    previous = None
    while previous != name:
        previous = name
        name = _VARIANT_WORDS.sub("", name)
    name = name.strip("_")
    if name and not name.startswith(("nvidia_", "amd_", "intel_")) and re.match(r"^(h|a|b|l|gb|rtx)\d", name):
        name = "nvidia_" + name
    return name or CPU_PLATFORM


@functools.cache
def _device_platform(index: int) -> str:
    return canonical_platform(torch.cuda.get_device_name(index))


def current_platform(device: torch.device | str | None = None) -> str:
    """The platform of ``device`` (default: the current CUDA device, else ``cpu``)."""
    if device is not None:
        device = torch.device(device)
        if device.type != "cuda":
            return CPU_PLATFORM
        return _device_platform(device.index if device.index is not None else torch.cuda.current_device())
    if not torch.cuda.is_available():
        return CPU_PLATFORM
    if not torch.cuda.is_initialized():
        # Kernels read the platform when they are registered, at import: CUDA
        # would be initialised by asking it (see _nvml), so NVML is asked first.
        # It names the host's GPUs, not the visible ones in CUDA's order, so its
        # answer is used only where every GPU of the host is of one platform.
        host = host_platform()
        if host is not None:
            return host
    return _device_platform(torch.cuda.current_device())


@functools.cache
def host_platform() -> str | None:
    """The platform of every GPU on this host, read through NVML without
    initialising CUDA; None if NVML cannot tell or the GPUs differ."""
    names = gpu_names()
    platforms = {canonical_platform(name) for name in names or ()}
    return platforms.pop() if len(platforms) == 1 else None
