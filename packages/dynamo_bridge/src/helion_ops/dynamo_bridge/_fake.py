"""Output metadata of a Helion kernel call without launching anything.

Two ways, both through Helion's binding and both GPU-free:

* where Helion's Dynamo support imports (torch >= 2.11), its output-spec
  inference: bind the kernel, read the host function's return value and map
  Helion's symbolic sizes back to the caller's; we then allocate outputs of
  that shape/stride/dtype/device in the caller's (fake) mode;
* elsewhere, compile the host code for one config and run it with a launcher
  that does nothing: the host code allocates the outputs itself.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from typing import Any

import torch
import torch.utils._pytree as pytree

from . import _compat

_lock = threading.Lock()
# kernel -> bound kernel -> compiled host function (the bound kernel is kept
# alive as the key, so its identity cannot be reused)
_host_fns: dict[Any, dict[Any, Callable[..., Any]]] = {}


def _host_function(kernel: Any, args: tuple[object, ...]) -> Callable[..., Any]:
    mode = _compat.fresh_fake_mode()
    bound = kernel.bind(tuple(_compat.static_bind_example(a, mode) for a in args))
    with _lock:
        fn = _host_fns.setdefault(kernel, {}).get(bound)
    if fn is None:
        fn = bound.compile_config(bound.config_spec.default_config())
        with _lock:
            _host_fns[kernel][bound] = fn
    return fn


def _outputs_from_spec(spec: dict[str, Any]) -> Any:
    tree = spec.get("tree_spec_str")
    if tree is None:
        return None
    leaves: list[object] = []
    for leaf in spec["leaf_specs"]:
        if leaf["type"] == "tensor":
            leaves.append(
                torch.empty_strided(leaf["shape"], leaf["stride"], dtype=leaf["dtype"], device=leaf["device"])
            )
        else:
            leaves.append(leaf.get("scalar_value"))
    return pytree.tree_unflatten(leaves, pytree.treespec_loads(tree))


def infer_fake_outputs(kernel: Any, *args: object) -> Any:
    """The outputs a call of ``kernel`` on ``args`` would return, without launching.

    ``args`` are all positional parameters (defaults filled in); tensors may be
    real, meta or fake, with symbolic sizes.
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
