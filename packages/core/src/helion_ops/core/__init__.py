"""helion_ops.core: register Helion kernels as ops with stored per-platform configs.

The public names are loaded on first use (PEP 562): ``import helion_ops.core``
imports neither torch nor helion, so the ``helion-ops`` command (a module of
this package) answers ``--help`` without paying for them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Public name -> the private module defining it.
_EXPORTS: dict[str, str] = {
    "write_bench_plot": "_bench_plot",
    "CONFIG_DIR_ENV_VAR": "_config_store",
    "ConfigEntry": "_config_entries",
    "ConfigStore": "_config_store",
    "key_id": "_config_entries",
    "ConfiguredHelionKernel": "_configured",
    "ConfigFileError": "_errors",
    "ConfigPathError": "_errors",
    "ConfigStoreWriteError": "_errors",
    "DuplicateOpError": "_errors",
    "HelionOpsError": "_errors",
    "InputValidationError": "_errors",
    "InvalidSettingsError": "_errors",
    "MissingConfigError": "_errors",
    "StoredConfigMismatchError": "_errors",
    "UnknownConfigKeyError": "_errors",
    "UnknownOpError": "_errors",
    "enable_interpreter_libdevice": "_interpreter",
    "interpreter_active": "_interpreter",
    "CPU_PLATFORM": "_platform",
    "canonical_platform": "_platform",
    "current_platform": "_platform",
    "MISSING_CONFIG_ENV_VAR": "_policy",
    "MissingConfigPolicy": "_policy",
    "missing_config_policy": "_policy",
    "set_missing_config_policy": "_policy",
    "register_kernel": "_register",
    "ENTRY_POINT_GROUP": "_registry",
    "get_kernel": "_registry",
    "load_entry_points": "_registry",
    "registered_kernels": "_registry",
    "ConfigSelector": "_selection",
    "nearest_key": "_selection",
    "expect_divisible": "_validation",
    "expect_float": "_validation",
    "expect_int": "_validation",
    "expect_kernel_device": "_validation",
    "expect_same_device": "_validation",
    "expect_size": "_validation",
    "expect_tensor": "_validation",
    "HelionKernelWrapper": "_wrapper",
}

__all__ = [
    "CONFIG_DIR_ENV_VAR",
    "CPU_PLATFORM",
    "ConfigEntry",
    "ConfigFileError",
    "ConfigPathError",
    "ConfigSelector",
    "ConfigStore",
    "ConfigStoreWriteError",
    "ConfiguredHelionKernel",
    "DuplicateOpError",
    "ENTRY_POINT_GROUP",
    "HelionKernelWrapper",
    "HelionOpsError",
    "InputValidationError",
    "InvalidSettingsError",
    "MISSING_CONFIG_ENV_VAR",
    "MissingConfigError",
    "MissingConfigPolicy",
    "StoredConfigMismatchError",
    "UnknownConfigKeyError",
    "UnknownOpError",
    "canonical_platform",
    "current_platform",
    "enable_interpreter_libdevice",
    "expect_divisible",
    "expect_float",
    "expect_int",
    "expect_kernel_device",
    "expect_same_device",
    "expect_size",
    "expect_tensor",
    "get_kernel",
    "interpreter_active",
    "key_id",
    "load_entry_points",
    "missing_config_policy",
    "nearest_key",
    "register_kernel",
    "registered_kernels",
    "set_missing_config_policy",
    "write_bench_plot",
]


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    # Kernels registered while TRITON_INTERPRET=1 must find libdevice working:
    # every op module reaches register_kernel through here first.
    from ._interpreter import enable_interpreter_libdevice

    enable_interpreter_libdevice()
    value = getattr(importlib.import_module(f".{module_name}", __name__), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:
    from ._bench_plot import write_bench_plot
    from ._config_entries import ConfigEntry, key_id
    from ._config_store import CONFIG_DIR_ENV_VAR, ConfigStore
    from ._configured import ConfiguredHelionKernel
    from ._errors import (
        ConfigFileError,
        ConfigPathError,
        ConfigStoreWriteError,
        DuplicateOpError,
        HelionOpsError,
        InputValidationError,
        InvalidSettingsError,
        MissingConfigError,
        StoredConfigMismatchError,
        UnknownConfigKeyError,
        UnknownOpError,
    )
    from ._interpreter import enable_interpreter_libdevice, interpreter_active
    from ._platform import CPU_PLATFORM, canonical_platform, current_platform
    from ._policy import MISSING_CONFIG_ENV_VAR, MissingConfigPolicy, missing_config_policy, set_missing_config_policy
    from ._register import register_kernel
    from ._registry import ENTRY_POINT_GROUP, get_kernel, load_entry_points, registered_kernels
    from ._selection import ConfigSelector, nearest_key
    from ._validation import (
        expect_divisible,
        expect_float,
        expect_int,
        expect_kernel_device,
        expect_same_device,
        expect_size,
        expect_tensor,
    )
    from ._wrapper import HelionKernelWrapper
