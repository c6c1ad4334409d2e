"""The names of this host's NVIDIA GPUs, read through NVML (the driver's
management library) instead of CUDA.

Asking CUDA for a device name initialises CUDA in the asking process, and a
process that forks workers after that cannot use CUDA in them ("Cannot
re-initialize CUDA in forked subprocess"). Kernels are registered when their
package is imported, so reading the platform there through CUDA would make
``import helion_ops.kernels`` initialise CUDA in every importer. NVML has no
such effect (vLLM reads device names through it for the same reason).

Only ``libnvidia-ml.so.1``, which every NVIDIA driver installs, is used,
through ctypes: no third-party package. Every failure (no library, no
driver, an NVML error) reads as "unknown" (None) and the caller asks CUDA.
"""

from __future__ import annotations

import ctypes
from typing import Any

_LIBRARY = "libnvidia-ml.so.1"
_NVML_SUCCESS = 0
# NVML_DEVICE_NAME_V2_BUFFER_SIZE: the longest name NVML writes, with its NUL.
_NAME_BUFFER = 96


def _load() -> Any | None:
    try:
        return ctypes.CDLL(_LIBRARY)
    except OSError:  # no NVIDIA driver on this machine
        return None


def gpu_names(library: Any | None = None) -> list[str] | None:
    """The names of every GPU NVML sees on this host, in NVML's order; None if
    NVML cannot be used. ``library``: the loaded NVML (tests pass a stand-in)."""
    lib = _load() if library is None else library
    if lib is None:
        return None
    try:
        if lib.nvmlInit_v2() != _NVML_SUCCESS:
            return None
    except AttributeError:  # a library without the NVML v2 entry points
        return None
    try:
        count = ctypes.c_uint(0)
        if lib.nvmlDeviceGetCount_v2(ctypes.pointer(count)) != _NVML_SUCCESS:
            return None
        names = []
        for index in range(count.value):
            handle = ctypes.c_void_p()
            if lib.nvmlDeviceGetHandleByIndex_v2(ctypes.c_uint(index), ctypes.pointer(handle)) != _NVML_SUCCESS:
                return None
            name = ctypes.create_string_buffer(_NAME_BUFFER)
            if lib.nvmlDeviceGetName(handle, name, ctypes.c_uint(_NAME_BUFFER)) != _NVML_SUCCESS:
                return None
            names.append(name.value.decode("utf-8", "replace"))
        return names
    except AttributeError:
        return None
    finally:
        lib.nvmlShutdown()
