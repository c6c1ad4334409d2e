"""Running Helion kernels in Triton's CPU interpreter (``TRITON_INTERPRET=1``).

In the interpreter, ``triton.language.extra.libdevice`` functions are empty
stubs (no GPU backend resolves them), so a kernel using ``torch.rsqrt`` fails
there. ``enable_interpreter_libdevice`` points the stubs that have a
``tl.math`` twin at that twin, looked up at call time (the interpreter patches
``tl.math`` while a kernel runs). Only for the interpreter: on a GPU the real
libdevice is used and this does nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

_TWINS = ("rsqrt", "sqrt", "exp", "exp2", "log", "log2", "sin", "cos", "floor", "ceil", "erf", "abs", "fma")
_enabled = False


def interpreter_active() -> bool:
    return os.environ.get("TRITON_INTERPRET") == "1"


def _forward(name: str) -> Callable[..., Any]:
    import triton.language as tl

    def call(*args: Any, **_kwargs: Any) -> Any:
        return getattr(tl.math, name)(*args)

    call.__name__ = name
    return call


def enable_interpreter_libdevice() -> bool:
    """Patch libdevice stubs for the interpreter; returns whether it patched."""
    global _enabled
    if _enabled or not interpreter_active():
        return _enabled
    import triton.language as tl
    import triton.language.extra.libdevice as libdevice

    for name in _TWINS:
        if hasattr(tl.math, name):
            setattr(libdevice, name, _forward(name))
    _enabled = True
    return True
