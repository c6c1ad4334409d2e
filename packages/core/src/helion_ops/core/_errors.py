"""Exceptions of helion_ops.core: one class per failure. Messages name the op,
what was expected, what was found and how to fix it."""

from __future__ import annotations


class HelionOpsError(Exception):
    """Base class of every error helion_ops.core raises on purpose."""


class InvalidSettingsError(HelionOpsError, ValueError):
    """A kernel's registration settings are invalid or conflict: helion_settings
    that would autotune, both config_picker= and keys=, keys= naming no
    argument, a missing-config policy that is not error, default or reference."""


class DuplicateOpError(HelionOpsError, ValueError):
    """An op name is registered twice."""


class UnknownOpError(HelionOpsError, KeyError):
    """No op of that name is registered."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ConfigFileError(HelionOpsError, ValueError):
    """A config file is unreadable, not vLLM's format, or has an invalid entry."""


class ConfigPathError(HelionOpsError, ValueError):
    """An op or platform name would leave the config directory."""


class MissingConfigError(HelionOpsError, LookupError):
    """No config exists for an op on this platform and the policy is 'error'."""


class StoredConfigMismatchError(HelionOpsError, ValueError):
    """A stored config is well formed but does not fit the kernel it was selected for
    (a block size too many, a value the kernel refuses)."""


class UnknownConfigKeyError(HelionOpsError, LookupError):
    """A config picker returned a key that no config entry has."""


class ConfigStoreWriteError(HelionOpsError, OSError):
    """A config file could not be written."""


class InputValidationError(HelionOpsError, ValueError):
    """An op was called with arguments it does not support."""
