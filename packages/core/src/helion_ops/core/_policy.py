"""What a kernel does when this platform has no config for it.

``error``: raise MissingConfigError naming the op, the platform and the
platforms that have configs. ``default``: Helion's default config for the
shapes at hand (no autotuning), with one warning per op. ``reference``: the
pure-PyTorch reference, with one warning per op.

The global default is ``default``: it keeps an engine working on a GPU nobody
tuned for, at Helion's untuned speed (measured 78-97% of the copy ceiling for
rms_norm on an H100), and never autotunes at run time. Set it per kernel
(``register_kernel(missing_config=...)``), per process (``set_missing_config_policy``)
or with ``HELION_OPS_MISSING_CONFIG``.
"""

from __future__ import annotations

import enum
import os

from ._errors import InvalidSettingsError

MISSING_CONFIG_ENV_VAR = "HELION_OPS_MISSING_CONFIG"


class MissingConfigPolicy(str, enum.Enum):
    ERROR = "error"
    DEFAULT = "default"
    REFERENCE = "reference"


_global: MissingConfigPolicy | None = None


def parse_policy(value: str | MissingConfigPolicy, origin: str) -> MissingConfigPolicy:
    try:
        return MissingConfigPolicy(value)
    except ValueError:
        raise InvalidSettingsError(
            f"{origin}: expected a missing-config policy, one of {', '.join(p.value for p in MissingConfigPolicy)}; "
            f"found {value!r}. Use one of those (or leave it unset for 'default')."
        ) from None


def set_missing_config_policy(policy: str | MissingConfigPolicy | None) -> None:
    """The process-wide policy for kernels that set none (None: back to the env var)."""
    global _global
    _global = None if policy is None else parse_policy(policy, "set_missing_config_policy")


def missing_config_policy(override: str | MissingConfigPolicy | None = None) -> MissingConfigPolicy:
    if override is not None:
        return parse_policy(override, "missing_config")
    if _global is not None:
        return _global
    return parse_policy(os.environ.get(MISSING_CONFIG_ENV_VAR) or "default", MISSING_CONFIG_ENV_VAR)
