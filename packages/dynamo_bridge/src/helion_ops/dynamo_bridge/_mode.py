"""Which path a traced kernel call takes: Helion's HOP or a torch.library op."""

from __future__ import annotations

import enum
import os
import threading

from ._capabilities import capabilities
from ._errors import InvalidModeError, UnsupportedModeError

MODE_ENV_VAR = "HELION_OPS_DYNAMO_MODE"


class DynamoMode(str, enum.Enum):
    """``auto`` picks per call; ``hop`` and ``custom_op`` force a path (debugging)."""

    AUTO = "auto"
    HOP = "hop"
    CUSTOM_OP = "custom_op"


_lock = threading.Lock()
_mode: DynamoMode | None = None


def _parse(value: str | DynamoMode, origin: str) -> DynamoMode:
    try:
        return DynamoMode(value)
    except ValueError:
        choices = ", ".join(m.value for m in DynamoMode)
        raise InvalidModeError(
            f"{origin}: expected one of {choices}, found {value!r}"
        ) from None


def set_mode(mode: str | DynamoMode | None) -> None:
    """Set the dispatch mode for calls traced from now on (None: back to the env var).

    Graphs compiled earlier keep their path; call ``torch._dynamo.reset()``
    to retrace them.
    """
    global _mode
    with _lock:
        _mode = None if mode is None else _parse(mode, "set_mode")


def get_mode() -> DynamoMode:
    """The mode set with ``set_mode``, else ``HELION_OPS_DYNAMO_MODE``, else auto."""
    if _mode is not None:
        return _mode
    return _parse(os.environ.get(MODE_ENV_VAR, "auto") or "auto", MODE_ENV_VAR)


def resolve_mode(device_type: str | None, op_name: str) -> DynamoMode:
    """The concrete path (HOP or CUSTOM_OP) for a call on ``device_type``.

    auto takes the HOP only where Inductor can lower it for that device, so
    that ``torch.compile`` with the default backend always compiles; elsewhere
    the custom op, which every backend handles as an opaque call.
    """
    mode = get_mode()
    caps = capabilities()
    if mode is DynamoMode.HOP:
        if not caps.hop_tracing:
            raise UnsupportedModeError(
                f"op {op_name!r}: dynamo mode 'hop' needs Helion's HOP, which is "
                f"unavailable with torch {caps.torch_version} and helion "
                f"{caps.helion_version} ({'; '.join(caps.notes) or 'probe failed'}). "
                f"Use mode 'auto' or 'custom_op' (set_mode or {MODE_ENV_VAR})."
            )
        return DynamoMode.HOP
    if mode is DynamoMode.CUSTOM_OP:
        return DynamoMode.CUSTOM_OP
    if caps.hop_tracing and caps.hop_inductor_lowering and device_type == "cuda":
        return DynamoMode.HOP
    return DynamoMode.CUSTOM_OP
