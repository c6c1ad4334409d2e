"""Input checks an op's ``validate`` hook is built from.

Each raises ``InputValidationError`` naming the op, the argument, what was
expected and what was found. They read metadata only (dtype, device, rank,
sizes, strides), so they also run on FakeTensors at trace time; there, a
check on a symbolic size becomes a guard of the compiled graph, and nothing
runs per call.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from ._errors import InputValidationError
from ._interpreter import interpreter_active

# Device types Triton launches kernels on. ROCm builds of torch call their GPUs
# "cuda" too. CPU tensors run only through Triton's interpreter.
GPU_DEVICE_TYPES = ("cuda", "xpu")


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
    written: bool = False,
) -> None:
    """``value`` is a tensor with one of ``dtypes``, the given rank, and (by
    default) a last dimension laid out contiguously (stride 1).

    ``written``: the kernel writes into ``value`` in place, so its rows must
    not share memory (an ``expand``-ed tensor would get every row's result
    written over the same elements).
    """
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
    if written and value.dim() == 2 and value.shape[0] > 1 and value.stride(0) < value.shape[1]:
        raise InputValidationError(
            f"op {op!r}: argument {name!r} is written in place, so its rows must not overlap: expected a row "
            f"stride of at least {value.shape[1]}, found strides {tuple(value.stride())} (an expanded or "
            "overlapping view); pass .clone()"
        )


def expect_same_device(op: str, **tensors: Any) -> None:
    """All named tensors live on one device."""
    devices = {name: t.device for name, t in tensors.items()}
    if len(set(devices.values())) > 1:
        found = ", ".join(f"{name} on {device}" for name, device in devices.items())
        raise InputValidationError(f"op {op!r}: arguments must be on one device, found {found}; move them with .to(device)")


def expect_kernel_device(op: str, **tensors: Any) -> None:
    """All named tensors live on one device, and Triton can run a kernel there:
    a GPU, or the CPU under Triton's interpreter (``TRITON_INTERPRET=1``)."""
    expect_same_device(op, **tensors)
    name, tensor = next(iter(tensors.items()))
    device = tensor.device
    if device.type in GPU_DEVICE_TYPES or (device.type == "cpu" and interpreter_active()):
        return
    cpu_note = " (cpu tensors run only in Triton's interpreter: set TRITON_INTERPRET=1)" if device.type == "cpu" else ""
    raise InputValidationError(
        f"op {op!r}: argument {name!r} must be on a GPU ({' or '.join(GPU_DEVICE_TYPES)}), or on cpu with "
        f"TRITON_INTERPRET=1, found {device}{cpu_note}; move the inputs with .to('cuda')"
    )


def expect_int(op: str, name: str, value: Any, *, minimum: int | None = None) -> None:
    """``value`` is an integer (a Python int or a traced SymInt, not a bool), at least ``minimum``."""
    import torch

    if isinstance(value, bool) or not isinstance(value, (int, torch.SymInt)):
        raise InputValidationError(f"op {op!r}: argument {name!r} must be an int, found {type(value).__name__} {value!r}")
    if minimum is not None and value < minimum:
        raise InputValidationError(f"op {op!r}: argument {name!r} must be at least {minimum}, found {value}")


def expect_float(op: str, name: str, value: Any, *, minimum: float | None = None) -> None:
    """``value`` is a real number (Python int or float, or a traced SymFloat/SymInt; not a bool)."""
    import torch

    if isinstance(value, bool) or not isinstance(value, (int, float, torch.SymInt, torch.SymFloat)):
        raise InputValidationError(f"op {op!r}: argument {name!r} must be a float, found {type(value).__name__} {value!r}")
    if minimum is not None and value < minimum:
        raise InputValidationError(f"op {op!r}: argument {name!r} must be at least {minimum}, found {value}")


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
