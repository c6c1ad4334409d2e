"""The eager fast path: one dictionary lookup per call in front of the full path.

The full path of a call (input checks, config selection, Helion's binding,
Triton's binding) is a function of the call's *signature*: for every tensor
its sizes, strides, dtype, device and pointer alignment, for every other
argument its type and value. ``call_signature`` reads exactly that; a call
whose signature was seen before runs the plan the first one left behind (the
bridge's direct call: compiled host code and compiled Triton kernels), so
nothing the full path decided can be reused for arguments it did not decide
for. Different config keys, dtypes, devices or layouts are different
signatures.

Why exact sizes rather than size classes: reading a tensor's sizes costs the
same as reading facts about them, and exact values also cover what the full
path derives from sizes (the config key, the input checks, Helion's and
Triton's size and divisibility specializations, integers the host code
derives, such as ``n // 2``). The price is one full-path call per new
signature, then a plan; decode engines call few distinct shapes.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Hashable
from typing import Any

import torch

FAST_PATH_ENV_VAR = "HELION_OPS_EAGER_FAST_PATH"
# Plans launch the compiled Triton kernels themselves unless this is "0"
# (then their launches go through Helion's and Triton's launchers, for
# diagnosis): verified by the GPU-marked tests on an H100 and an H200.
DIRECT_LAUNCH_ENV_VAR = "HELION_OPS_DIRECT_LAUNCH"
# Distinct signatures kept per op before the cache starts over (a plan is a
# few small objects; an engine sees far fewer shapes than this).
MAX_PLANS = 4096

_Tensor = torch.Tensor
_SCALARS = (int, float, bool, str, type(None))


def call_signature(args: tuple[Any, ...]) -> tuple[Hashable, ...] | None:
    """The signature of a call, or None for arguments it does not cover
    (lists and other containers: those calls always take the full path)."""
    sig: list[Hashable] = []
    for arg in args:
        if isinstance(arg, _Tensor):
            sig.append((arg.shape, arg.stride(), arg.dtype, arg.device, arg.data_ptr() & 15))
        elif isinstance(arg, _SCALARS):
            # The type too: 1, 1.0 and True are equal as dictionary keys.
            sig.append((type(arg), arg))
        else:
            return None
    return tuple(sig)


def _env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if value in ("1", "true", "on", "yes"):
        return True
    if value in ("0", "false", "off", "no"):
        return False
    return default


def direct_launch_enabled() -> bool:
    """Plans start the compiled Triton kernels themselves, skipping Triton's
    argument binding too, unless ``HELION_OPS_DIRECT_LAUNCH=0`` (read when a
    plan is built)."""
    return _env_flag(DIRECT_LAUNCH_ENV_VAR, default=True)


def fast_path_enabled() -> bool:
    """``HELION_OPS_EAGER_FAST_PATH=0`` turns plans off (every call takes the full path)."""
    return _env_flag(FAST_PATH_ENV_VAR, default=True)


class PlanCache:
    """Signature -> plan, for one op. Lookups take no lock (a dict read is
    atomic); a full cache is emptied under the lock and refills."""

    def __init__(self, max_plans: int = MAX_PLANS) -> None:
        self._plans: dict[Hashable, Callable[..., Any]] = {}
        self._max = max_plans
        self._lock = threading.Lock()
        self.get = self._plans.get

    def add(self, signature: Hashable, plan: Callable[..., Any]) -> None:
        with self._lock:
            if len(self._plans) >= self._max:
                self._plans.clear()
            self._plans[signature] = plan

    def clear(self) -> None:
        with self._lock:
            self._plans.clear()

    def __len__(self) -> int:
        return len(self._plans)
