"""Output metadata of a Helion kernel call without launching anything.

Through Helion's binding, GPU-free: bind a static-shape twin of the kernel to
stand-ins with the call's size hints, compile the host code for one config
and run it on the call's own (fake, possibly symbolic) arguments with a
launcher that does nothing. The host code allocates the outputs itself, so
their sizes follow the arguments, symbolic sizes included.

The twin (see ``_compat.static_shape_twin``) keeps these bindings out of the
kernel's own cache, which eager calls use.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from typing import Any

from . import _compat

_lock = threading.Lock()
# kernel -> its static-shape twin, used for binding only
_twins: dict[Any, Any] = {}
# kernel -> bound twin -> compiled host function (the bound twin is kept alive
# as the key, so its identity cannot be reused)
_host_fns: dict[Any, dict[Any, Callable[..., Any]]] = {}


def static_twin(kernel: Any) -> Any:
    """The kernel's static-shape twin, made once: what trace-time binding
    (our fake impl, Helion's HOP output-spec inference) binds instead of the
    kernel, so that only real calls populate the kernel's own cache."""
    with _lock:
        twin = _twins.get(kernel)
        if twin is None:
            twin = _twins[kernel] = _compat.static_shape_twin(kernel)
        return twin


def _host_function(kernel: Any, args: tuple[object, ...]) -> Callable[..., Any]:
    mode = _compat.fresh_fake_mode()
    stand_ins = tuple(_compat.static_bind_example(a, mode) for a in args)
    bound = _compat.bind_outside_fake_modes(static_twin(kernel), stand_ins)
    with _lock:
        fn = _host_fns.setdefault(kernel, {}).get(bound)
    if fn is None:
        fn = bound.compile_config(bound.config_spec.default_config())
        with _lock:
            _host_fns[kernel][bound] = fn
    return fn


def infer_fake_outputs(kernel: Any, *args: object) -> Any:
    """The outputs a call of ``kernel`` on ``args`` would return, without launching.

    ``args`` are all positional parameters (defaults filled in); tensors may be
    real, meta or fake, with symbolic sizes. ``kernel`` itself is not bound:
    its eager calls are unaffected.
    """
    return _host_function(kernel, args)(*args, _launcher=_compat.noop_launcher)


def _with_defaults(kernel: Any, args: tuple[object, ...], kwargs: dict[str, object]) -> tuple[object, ...]:
    bound = inspect.signature(kernel.fn).bind(*args, **kwargs)
    bound.apply_defaults()
    return tuple(bound.arguments.values())


def make_fake_impl(kernel: Any) -> Callable[..., Any]:
    def fake_impl(*args: object, **kwargs: object) -> Any:
        return infer_fake_outputs(kernel, *_with_defaults(kernel, args, kwargs))

    fake_impl.__name__ = f"{getattr(kernel, 'name', 'kernel')}_fake"
    return fake_impl
