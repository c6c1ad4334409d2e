"""Running Helion kernels in Triton's CPU interpreter (``TRITON_INTERPRET=1``).

In the interpreter, ``triton.language.extra.libdevice`` functions are empty
stubs (no GPU backend resolves them), so a kernel using ``torch.rsqrt`` fails
there. ``enable_interpreter_libdevice`` points the stubs that have a
``tl.math`` twin at that twin, looked up at call time (the interpreter patches
``tl.math`` while a kernel runs). Only for the interpreter: on a GPU the real
libdevice is used and this does nothing.

The interpreter also keeps a launch's grid and its patches of
``triton.language`` in module globals, so two threads launching at once
corrupt each other ("x >= grid_dim[0]", "Did you forget to add @triton.jit");
``enable_interpreter_libdevice`` therefore also makes interpreter launches
take turns. GPU launches are untouched.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

_SAME_NAME = ("rsqrt", "sqrt", "exp", "exp2", "log", "log2", "sin", "cos", "floor", "ceil", "erf", "abs", "fma")
# libdevice function -> its tl.math twin. Most share the name; fast_dividef
# (the GPU's div.approx.f32: a reciprocal and a multiply) divides in the interpreter.
_TWINS = {name: name for name in _SAME_NAME} | {"fast_dividef": "fdiv"}
_enabled = False
_launch_lock = threading.RLock()


def interpreter_active() -> bool:
    return os.environ.get("TRITON_INTERPRET") == "1"


def _forward(name: str, twin: str) -> Callable[..., Any]:
    import triton.language as tl

    def call(*args: Any, **_kwargs: Any) -> Any:
        return getattr(tl.math, twin)(*args)

    call.__name__ = name
    return call


def _serialize_interpreter_launches() -> None:
    """One interpreter launch at a time, process-wide (RLock: a launch may nest)."""
    import triton.runtime.interpreter as interpreter

    original = interpreter.GridExecutor.__call__
    if getattr(original, "_helion_ops_serialized", False):
        return

    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _launch_lock:
            return original(self, *args, **kwargs)

    call._helion_ops_serialized = True  # type: ignore[attr-defined]
    interpreter.GridExecutor.__call__ = call


def enable_interpreter_libdevice() -> bool:
    """Patch libdevice stubs for the interpreter and serialise its launches;
    returns whether it patched."""
    global _enabled
    if _enabled or not interpreter_active():
        return _enabled
    import triton.language as tl
    import triton.language.extra.libdevice as libdevice

    for name, twin in _TWINS.items():
        if hasattr(tl.math, twin):
            setattr(libdevice, name, _forward(name, twin))
    _serialize_interpreter_launches()
    _enabled = True
    return True
