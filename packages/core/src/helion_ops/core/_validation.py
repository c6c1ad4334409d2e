"""Input checks an op's ``validate`` hook is built from.

Each raises ``InputValidationError`` naming the op, the argument, what was
expected and what was found. They read metadata only (dtype, device, rank,
sizes, strides), so they also run on FakeTensors at trace time.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from ._errors import InputValidationError


def _dtype_names(dtypes: Collection[Any]) -> str:
    return ", ".join(str(d).removeprefix("torch.") for d in dtypes)


def expect_tensor(
    op: str,
    name: str,
    value: Any,
    *,
    dtypes: Collection[Any] | None = None,
    ndim: int | None = None,
    min_ndim: int | None = None,
    unit_last_stride: bool = True,
) -> None:
    """``value`` is a tensor with one of ``dtypes``, the given rank, and (by
    default) a last dimension laid out contiguously (stride 1)."""
    import torch

    if not isinstance(value, torch.Tensor):
        raise InputValidationError(f"op {op!r}: argument {name!r} must be a torch.Tensor, found {type(value).__name__}")
    if dtypes is not None and value.dtype not in dtypes:
        raise InputValidationError(
            f"op {op!r}: argument {name!r} must have dtype in ({_dtype_names(dtypes)}), found "
            f"{str(value.dtype).removeprefix('torch.')}; cast it with .to(...)"
        )
    if ndim is not None and value.dim() != ndim:
        raise InputValidationError(
            f"op {op!r}: argument {name!r} must have {ndim} dimensions, found {value.dim()} (shape {tuple(value.shape)})"
        )
    if min_ndim is not None and value.dim() < min_ndim:
        raise InputValidationError(
            f"op {op!r}: argument {name!r} must have at least {min_ndim} dimensions, found {value.dim()}"
        )
    if unit_last_stride and value.dim() > 0 and value.shape[-1] > 1 and value.stride(-1) != 1:
        raise InputValidationError(
            f"op {op!r}: argument {name!r} must have stride 1 in its last dimension, found strides "
            f"{tuple(value.stride())}; pass .contiguous()"
        )


def expect_same_device(op: str, **tensors: Any) -> None:
    """All named tensors live on one device."""
    devices = {name: t.device for name, t in tensors.items()}
    if len(set(devices.values())) > 1:
        found = ", ".join(f"{name} on {device}" for name, device in devices.items())
        raise InputValidationError(f"op {op!r}: arguments must be on one device, found {found}; move them with .to(device)")


def expect_size(op: str, name: str, value: Any, dim: int, expected: Any, why: str = "") -> None:
    """``value.shape[dim] == expected``."""
    found = value.shape[dim]
    if found != expected:
        reason = f" ({why})" if why else ""
        raise InputValidationError(
            f"op {op!r}: argument {name!r} must have size {expected} in dimension {dim}{reason}, found {found} "
            f"(shape {tuple(value.shape)})"
        )


def expect_divisible(op: str, name: str, value: Any, dim: int, divisor: int) -> None:
    """``value.shape[dim]`` is a multiple of ``divisor``."""
    found = value.shape[dim]
    if found % divisor != 0:
        raise InputValidationError(
            f"op {op!r}: argument {name!r} must have a size divisible by {divisor} in dimension {dim}, found {found}"
        )
