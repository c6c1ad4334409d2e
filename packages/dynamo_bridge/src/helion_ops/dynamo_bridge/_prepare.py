"""Everything a kernel needs before it is traced, done outside any traced region:
the side-table entry for the HOP and the torch.library custom op."""

from __future__ import annotations

import dataclasses
import keyword
import threading
from collections.abc import Callable, Sequence
from typing import Any

import torch

from . import _compat
from ._errors import SchemaInferenceError
from ._fake import make_fake_impl
from ._schema import infer_schema, mutated_parameters

DEFAULT_NAMESPACE = "helion_ops"


@dataclasses.dataclass(frozen=True)
class PreparedKernel:
    """A kernel made ready for Dynamo: ``custom_op`` is the OpOverload of the
    fallback path; ``side_table_index`` is None where the HOP is unavailable
    or not allowed (``hop_allowed`` False: the op's implementation chooses
    among several kernels per call, which one HOP node cannot express)."""

    op_name: str
    kernel: Any
    qualname: str
    schema: str
    mutated_args: tuple[str, ...]
    custom_op: Any
    side_table_index: int | None
    validate: Callable[..., None] | None = None
    hop_allowed: bool = True


_lock = threading.RLock()
_libraries: dict[str, Any] = {}
_by_kernel: dict[Any, PreparedKernel] = {}
_by_qualname: dict[str, PreparedKernel] = {}


def _library(namespace: str) -> Any:
    lib = _libraries.get(namespace)
    if lib is None:
        lib = torch.library.Library(namespace, "FRAGMENT")
        _libraries[namespace] = lib
    return lib


def _check_name(kind: str, value: str) -> None:
    if not value.isidentifier() or keyword.iskeyword(value):
        raise SchemaInferenceError(
            f"{kind} {value!r} is not a valid custom-op name: expected a Python identifier "
            "such as 'rms_norm'. Pass op_name= with a valid name."
        )


def _as_impl_result(result: object) -> object:
    # torch.library implementations return tuples for multi-output schemas.
    return tuple(result) if isinstance(result, list) else result


def prepare_kernel(
    kernel: Any,
    *,
    op_name: str,
    namespace: str = DEFAULT_NAMESPACE,
    impl: Callable[..., Any] | None = None,
    fake_impl: Callable[..., Any] | None = None,
    mutates_args: Sequence[str] | None = None,
    validate: Callable[..., None] | None = None,
    hop_allowed: bool = True,
) -> PreparedKernel:
    """Define the custom op ``namespace::op_name`` and add ``kernel`` to Helion's
    side table. Idempotent per kernel; thread-safe.

    ``impl`` runs the kernel eagerly inside compiled graphs (default: the kernel
    itself); ``fake_impl`` defaults to output inference through Helion's
    binding; ``mutates_args`` defaults to the parameters the kernel's source
    writes in place. ``validate(*args)``, where given, checks a traced call's
    inputs (FakeTensors, sizes possibly symbolic) once at trace time, on either
    path; its exception reaches the caller as it was raised. With
    ``hop_allowed`` False, traced calls always take the custom op (``impl``
    decides at run time which kernel runs, as an op with several kernels
    needs); the HOP would run ``kernel`` alone.
    """
    if not isinstance(kernel, _compat.helion_kernel_type()):
        raise SchemaInferenceError(
            f"op {op_name!r}: expected a helion.Kernel (from @helion.kernel), found {type(kernel).__name__}"
        )
    _check_name("op name", op_name)
    _check_name("namespace", namespace)
    with _lock:
        existing = _by_kernel.get(kernel)
        if existing is not None:
            return existing
        qualname = f"{namespace}::{op_name}"
        if qualname in _by_qualname:
            raise SchemaInferenceError(
                f"custom op {qualname!r} is already defined for another kernel; "
                "choose another op_name or namespace"
            )
        mutated = tuple(mutates_args if mutates_args is not None else mutated_parameters(kernel.fn))
        schema = infer_schema(kernel.fn, op_name, mutated)
        lib = _library(namespace)
        lib.define(op_name + schema)
        run = impl if impl is not None else kernel

        def _impl(*args: object) -> object:
            return _as_impl_result(run(*args))

        lib.impl(op_name, _impl, "CompositeExplicitAutograd")
        _compat.register_fake(qualname, fake_impl or make_fake_impl(kernel), lib)
        index = _compat.side_table_add(kernel) if hop_allowed and _compat.hop_modules() is not None else None
        prepared = PreparedKernel(
            op_name=op_name,
            kernel=kernel,
            qualname=qualname,
            schema=schema,
            mutated_args=mutated,
            custom_op=getattr(getattr(torch.ops, namespace), op_name).default,
            side_table_index=index,
            validate=validate,
            hop_allowed=hop_allowed,
        )
        _by_kernel[kernel] = prepared
        _by_qualname[qualname] = prepared
        return prepared


def prepared_for(kernel: Any) -> PreparedKernel | None:
    return _by_kernel.get(kernel)


def reset_side_table_for_tests() -> None:
    """Empty Helion's kernel side table. Tests only, single-threaded.

    Traces after the reset add their kernel again (``add_kernel`` is
    idempotent); custom ops cannot be undefined and stay.
    """
    with _lock:
        _compat.side_table_reset()
        for kernel, prepared in list(_by_kernel.items()):
            updated = dataclasses.replace(prepared, side_table_index=None)
            _by_kernel[kernel] = updated
            _by_qualname[prepared.qualname] = updated
