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
# Names being registered right now: op name -> (token, module). A name is
# reserved before its wrapper is built, so that a second registration of it
# fails with DuplicateOpError at once, even when both run concurrently.
_pending: dict[str, tuple[object, str]] = {}


def _duplicate(op_name: str, owner_module: str, module: str) -> DuplicateOpError:
    return DuplicateOpError(
        f"op {op_name!r} is already registered by module {owner_module!r}; "
        f"module {module!r} tried to register it again. Choose another op_name."
    )


def _owner_module(op_name: str) -> str | None:
    existing = _kernels.get(op_name)
    if existing is not None:
        return existing.module
    pending = _pending.get(op_name)
    return pending[1] if pending is not None else None


def reserve(op_name: str, module: str) -> object:
    """Claim ``op_name`` for a registration about to build its wrapper.

    Returns the token that ``add`` and ``release`` take; raises
    DuplicateOpError if the name is registered or claimed already.
    """
    with _lock:
        owner = _owner_module(op_name)
        if owner is not None:
            raise _duplicate(op_name, owner, module)
        token = object()
        _pending[op_name] = (token, module)
        return token


def release(op_name: str, token: object) -> None:
    """Give up a claim whose registration failed (no-op once it was added)."""
    with _lock:
        pending = _pending.get(op_name)
        if pending is not None and pending[0] is token:
            del _pending[op_name]


def add(wrapper: HelionKernelWrapper, token: object | None = None) -> None:
    """Register ``wrapper``; ``token`` is ``reserve``'s, if its name was claimed."""
    with _lock:
        pending = _pending.get(wrapper.op_name)
        claimed_by_us = pending is not None and token is not None and pending[0] is token
        owner = None if claimed_by_us else _owner_module(wrapper.op_name)
        if owner is not None:
            raise _duplicate(wrapper.op_name, owner, wrapper.module)
        _pending.pop(wrapper.op_name, None)
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
