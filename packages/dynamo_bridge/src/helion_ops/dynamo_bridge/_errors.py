"""Exceptions raised by the bridge: one class per failure, each a subclass of
the builtin a caller would catch without knowing the bridge."""

from __future__ import annotations


class BridgeError(Exception):
    """Base class of every error the bridge raises on purpose."""


class WrapperRegistrationError(BridgeError, TypeError):
    """``register_wrapper_type`` was given something it cannot hook into Dynamo."""


class KernelResolutionError(BridgeError, TypeError):
    """``kernel_of(obj)`` did not return a Helion kernel for a traced wrapper."""


class UnsupportedModeError(BridgeError, RuntimeError):
    """The requested dispatch mode is not available with this torch/helion."""


class InvalidModeError(BridgeError, ValueError):
    """A mode name (argument or ``HELION_OPS_DYNAMO_MODE``) is not one we know."""


class SchemaInferenceError(BridgeError, TypeError):
    """A kernel's Python signature cannot be expressed as a custom-op schema."""


class HelionUnavailableError(BridgeError, ImportError):
    """Helion is needed for this call but cannot be imported."""
