"""Thread-safe registry of kernel wrappers by op name, and entry-point loading."""

from __future__ import annotations

import difflib
import importlib.metadata
import threading
from typing import TYPE_CHECKING

from ._errors import DuplicateOpError, UnknownOpError

if TYPE_CHECKING:
    from ._wrapper import HelionKernelWrapper

ENTRY_POINT_GROUP = "helion_ops.kernels"

_lock = threading.Lock()
_kernels: dict[str, HelionKernelWrapper] = {}


def add(wrapper: HelionKernelWrapper) -> None:
    with _lock:
        existing = _kernels.get(wrapper.op_name)
        if existing is not None:
            raise DuplicateOpError(
                f"op {wrapper.op_name!r} is already registered by module {existing.module!r}; "
                f"module {wrapper.module!r} tried to register it again. Choose another op_name."
            )
        _kernels[wrapper.op_name] = wrapper


def get_kernel(op_name: str) -> HelionKernelWrapper:
    """The wrapper registered as ``op_name``; UnknownOpError with close names otherwise."""
    with _lock:
        wrapper = _kernels.get(op_name)
        names = list(_kernels)
    if wrapper is None:
        close = difflib.get_close_matches(op_name, names, n=3)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise UnknownOpError(f"no op named {op_name!r} is registered (registered: {', '.join(sorted(names)) or 'none'}).{hint}")
    return wrapper


def registered_kernels() -> dict[str, HelionKernelWrapper]:
    with _lock:
        return dict(sorted(_kernels.items()))


def unregister(op_name: str) -> None:
    """Tests only: forget an op (its custom op, if defined, stays in torch)."""
    with _lock:
        _kernels.pop(op_name, None)


def load_entry_points() -> list[str]:
    """Import every kernel package that declares the ``helion_ops.kernels`` entry point."""
    loaded = []
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        ep.load()
        loaded.append(ep.name)
    return loaded
