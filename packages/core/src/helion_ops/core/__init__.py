"""helion_ops.core: register Helion kernels as ops with stored per-platform configs."""

from __future__ import annotations

from ._config_store import CONFIG_DIR_ENV_VAR, ConfigEntry, ConfigStore, key_id
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

# Kernels registered while TRITON_INTERPRET=1 must find libdevice working.
enable_interpreter_libdevice()

__all__ = [
    "CONFIG_DIR_ENV_VAR",
    "CPU_PLATFORM",
    "ENTRY_POINT_GROUP",
    "MISSING_CONFIG_ENV_VAR",
    "ConfigEntry",
    "ConfigFileError",
    "ConfigPathError",
    "ConfigSelector",
    "ConfigStore",
    "ConfigStoreWriteError",
    "ConfiguredHelionKernel",
    "DuplicateOpError",
    "HelionKernelWrapper",
    "HelionOpsError",
    "InputValidationError",
    "InvalidSettingsError",
    "MissingConfigError",
    "MissingConfigPolicy",
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
]
