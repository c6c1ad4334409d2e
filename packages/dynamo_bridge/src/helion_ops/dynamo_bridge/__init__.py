"""helion_ops.dynamo_bridge: the one adapter over PyTorch Dynamo and Helion internals.

Vendorable: this package imports only torch at import time (helion lazily)
and refers to itself with relative imports only, so it can be copied into
another project under any name.
"""

from __future__ import annotations

from ._capabilities import Capabilities, capabilities
from ._compat import equal_size_pattern, guarded_key, recorded_inductor_launches, size1_guarded_key, size_buckets
from ._direct import direct_call
from ._errors import (
    BridgeError,
    HelionUnavailableError,
    InvalidModeError,
    KernelResolutionError,
    SchemaInferenceError,
    UnsupportedModeError,
    WrapperRegistrationError,
)
from ._fake import infer_fake_outputs
from ._hook import register_wrapper_type, registered_wrapper_types
from ._mode import MODE_ENV_VAR, DynamoMode, get_mode, resolve_mode, set_mode
from ._prepare import DEFAULT_NAMESPACE, PreparedKernel, prepare_kernel, prepared_for, reset_side_table_for_tests
from ._schema import infer_schema, mutated_parameters

__all__ = [
    "DEFAULT_NAMESPACE",
    "MODE_ENV_VAR",
    "BridgeError",
    "Capabilities",
    "DynamoMode",
    "HelionUnavailableError",
    "InvalidModeError",
    "KernelResolutionError",
    "PreparedKernel",
    "SchemaInferenceError",
    "UnsupportedModeError",
    "WrapperRegistrationError",
    "capabilities",
    "direct_call",
    "equal_size_pattern",
    "get_mode",
    "guarded_key",
    "infer_fake_outputs",
    "infer_schema",
    "mutated_parameters",
    "prepare_kernel",
    "prepared_for",
    "recorded_inductor_launches",
    "register_wrapper_type",
    "registered_wrapper_types",
    "reset_side_table_for_tests",
    "resolve_mode",
    "set_mode",
    "size1_guard_needed",
    "size1_guarded_key",
    "size_buckets",
]


def size1_guard_needed() -> bool:
    """Whether kernel keys must tell size-1 dimensions apart (helion 1.1-1.4)."""
    from ._compat import size1_guard_needed as _probe

    return _probe()
