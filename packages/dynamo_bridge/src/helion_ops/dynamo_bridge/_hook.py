"""Teach Dynamo to trace calls to instances of a wrapper class.

At wrap time (when Dynamo first meets the wrapper object, before any graph
node is made) we resolve the Helion kernel, make sure it is prepared (side
table, custom op) and guard on the wrapper's identity, so a different wrapper
object recompiles. At call time we pick the path per call (the device of the
arguments decides what Inductor can lower) and emit either Helion's HOP or the
custom op.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import torch

from . import _compat
from ._errors import KernelResolutionError, UnsupportedModeError, WrapperRegistrationError
from ._fake import static_twin
from ._mode import MODE_ENV_VAR, DynamoMode, get_mode, resolve_mode
from ._prepare import PreparedKernel, prepare_kernel, prepared_for

_lock = threading.Lock()
_registered: dict[type, tuple[Callable[[Any], Any], Callable[[Any], str]]] = {}


def _default_op_name(obj: Any) -> str:
    name = getattr(obj, "op_name", None)
    return name if isinstance(name, str) else type(obj).__name__


def _device_type(value: Any) -> str | None:
    if isinstance(value, torch.Tensor):
        return value.device.type
    if isinstance(value, (list, tuple)):
        for item in value:
            found = _device_type(item)
            if found is not None:
                return found
    return None


def _resolve_kernel(obj: Any, kernel_of: Callable[[Any], Any], op_name: str) -> Any:
    try:
        kernel = kernel_of(obj)
    except Exception as exc:
        raise KernelResolutionError(
            f"op {op_name!r}: kernel_of({type(obj).__name__}) raised {type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(kernel, _compat.helion_kernel_type()):
        raise KernelResolutionError(
            f"op {op_name!r}: kernel_of({type(obj).__name__}) must return a helion.Kernel, "
            f"found {type(kernel).__name__}. Return the object made by @helion.kernel."
        )
    return kernel


def _make_variable_class() -> type:
    base = _compat.variable_tracker_base()

    class WrapperCallVariable(base):  # type: ignore[misc, valid-type]
        """A traced wrapper object: calling it emits the HOP or the custom op."""

        def __init__(self, wrapper: Any, prepared: PreparedKernel, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.wrapper = wrapper
            self.prepared = prepared

        def python_type(self) -> type:
            return type(self.wrapper)

        def call_function(self, tx: Any, args: Any, kwargs: dict[str, Any]) -> Any:
            prepared = self.prepared
            examples = [_compat.traced_example_value(a) for a in args]
            example_kwargs = {k: _compat.traced_example_value(v) for k, v in kwargs.items()}
            if prepared.validate is not None:
                # Once, at trace time, on FakeTensors: the compiled graph pays
                # nothing per call (size checks become guards).
                try:
                    prepared.validate(*examples, **example_kwargs)
                except Exception as exc:
                    raise _compat.error_for_tracing(exc) from exc.__cause__
            try:
                mode = resolve_mode(_device_type([*examples, *example_kwargs.values()]), prepared.op_name)
            except UnsupportedModeError as exc:  # forced 'hop' where there is none: the user's error, as is
                raise _compat.error_for_tracing(exc) from exc.__cause__
            if mode is DynamoMode.HOP:
                mode = _hop_or_custom_op(prepared, examples, example_kwargs)
            if mode is DynamoMode.HOP:
                args = [_compat.specialize_symbolic_scalar(a, tx) for a in args]
                kwargs = {k: _compat.specialize_symbolic_scalar(v, tx) for k, v in kwargs.items()}
                # The HOP node runs the kernel (by its side-table index); the
                # output spec is inferred by binding the static twin, which
                # keeps trace-time bindings out of the kernel's cache.
                index = _compat.side_table_add(prepared.kernel)
                hop_var = _compat.make_helion_kernel_variable(static_twin(prepared.kernel), index, self.source)
                with _compat.device_lookup_without_tensor_iteration():
                    return hop_var.call_function(tx, args, kwargs)
            op_var = _compat.in_graph_function_variable(prepared.custom_op)
            return op_var.call_function(tx, list(args), kwargs)

    return WrapperCallVariable


def _hop_or_custom_op(prepared: PreparedKernel, examples: list[Any], example_kwargs: dict[str, Any]) -> DynamoMode:
    """The HOP, unless it would fail or be wrong for this call: Helion's own
    output-spec inference cannot bind the traced arguments (helion 1.4 under
    dynamic=True), or the HOP would drop one of the kernel's in-place writes
    (helion <= 1.4 miss writes made through host views). Then the custom op
    under ``auto``, a clear error when the HOP was asked for."""
    if not prepared.hop_allowed:
        if get_mode() is DynamoMode.AUTO:
            return DynamoMode.CUSTOM_OP
        raise _compat.error_for_tracing(
            UnsupportedModeError(
                f"op {prepared.op_name!r} chooses at run time among several kernels (one per config entry), "
                "and a HOP node runs one kernel. Use dynamo mode 'auto' or 'custom_op' (set_mode or "
                f"{MODE_ENV_VAR})."
            )
        )
    twin = static_twin(prepared.kernel)
    try:
        seen = _compat.hop_mutated_inputs(twin, twin.normalize_args(*examples, **example_kwargs))
    except _compat.HopBindError as exc:
        problem = f"Helion's HOP cannot bind this call's traced arguments ({exc})"
    else:
        missing = [] if seen is None else [name for name in prepared.mutated_args if name not in seen]
        if not missing:
            return DynamoMode.HOP
        problem = (
            f"Helion's HOP would not write back the in-place update of {', '.join(repr(n) for n in missing)} "
            "(this helion does not see writes made through a view the kernel's host code takes), so the caller "
            "would see stale values"
        )
    if get_mode() is DynamoMode.AUTO:
        return DynamoMode.CUSTOM_OP
    raise _compat.error_for_tracing(
        UnsupportedModeError(
            f"op {prepared.op_name!r}: {problem}. Use dynamo mode 'auto' or 'custom_op' (set_mode or "
            f"{MODE_ENV_VAR}), or a newer helion."
        )
    )


_variable_class: type | None = None


def _wrap_handler(kernel_of: Callable[[Any], Any], op_name_of: Callable[[Any], str]) -> Callable[..., Any]:
    def handler(builder: Any, value: Any) -> Any:
        global _variable_class
        op_name = op_name_of(value)
        try:
            kernel = _resolve_kernel(value, kernel_of, op_name)
        except KernelResolutionError as exc:
            raise _compat.error_for_tracing(exc) from exc.__cause__
        # Normally prepared at registration; a third-party wrapper that skipped
        # it gets prepared here, still before any graph node is created.
        prepared = prepared_for(kernel) or prepare_kernel(kernel, op_name=op_name)
        builder.install_guards(_compat.id_match_guard())
        if _variable_class is None:
            _variable_class = _make_variable_class()
        return _variable_class(value, prepared, source=builder.source)

    return handler


def register_wrapper_type(
    cls: type,
    kernel_of: Callable[[Any], Any],
    *,
    op_name_of: Callable[[Any], str] = _default_op_name,
) -> None:
    """From now on Dynamo traces calls to instances of ``cls``.

    ``kernel_of(obj)`` must return the ``helion.Kernel`` that runs the call;
    it is resolved when Dynamo first meets ``obj``, outside the traced region.
    Idempotent (same arguments) and thread-safe.
    """
    if not isinstance(cls, type):
        raise WrapperRegistrationError(
            f"register_wrapper_type: expected a class, found {type(cls).__name__} ({cls!r}). "
            "Pass the wrapper's class, e.g. register_wrapper_type(MyWrapper, ...)."
        )
    if not callable(kernel_of):
        raise WrapperRegistrationError(
            f"register_wrapper_type({cls.__name__}): kernel_of must be callable, found {type(kernel_of).__name__}"
        )
    if issubclass(cls, (torch.Tensor, torch.nn.Module)):
        raise WrapperRegistrationError(
            f"register_wrapper_type({cls.__name__}): tensors and modules have their own Dynamo "
            "handling and cannot be kernel wrappers; wrap the kernel in a plain class"
        )
    with _lock:
        previous = _registered.get(cls)
        if previous is not None and previous == (kernel_of, op_name_of):
            return
        _registered[cls] = (kernel_of, op_name_of)
        _compat.dynamo_type_dispatch()[cls] = _wrap_handler(kernel_of, op_name_of)


def registered_wrapper_types() -> tuple[type, ...]:
    with _lock:
        return tuple(_registered)
