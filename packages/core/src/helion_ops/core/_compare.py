"""Running an op and its reference on the same inputs and comparing what they
produced: the returned tensors (one, a tuple, or None) AND every tensor
argument afterwards, so in-place ops (which return None) are checked on what
they wrote, and an op that writes an input it should not is caught too."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import torch

from ._cli_errors import ResultMismatchError


@dataclasses.dataclass(frozen=True)
class Comparison:
    """``max_abs``: the largest absolute difference; ``close``: every element within atol + rtol * |expected|."""

    max_abs: float
    close: bool


# Results are checked against the reference before they count (a bench
# contender, a tuning candidate): one that computes something else is
# flagged or dropped rather than celebrated. (atol, rtol) by input dtype.
TOLERANCES: dict[torch.dtype, tuple[float, float]] = {
    torch.bfloat16: (2e-2, 2e-2),
    torch.float16: (1e-2, 1e-2),
    torch.float32: (1e-4, 1e-4),
}
DEFAULT_TOLERANCE = (1e-2, 1e-2)


def tolerance_for(args: Sequence[Any]) -> tuple[float, float]:
    """(atol, rtol) for a call: by its first floating-point tensor argument's dtype."""
    dtype = next((a.dtype for a in args if isinstance(a, torch.Tensor) and a.is_floating_point()), None)
    return TOLERANCES.get(dtype, DEFAULT_TOLERANCE) if dtype is not None else DEFAULT_TOLERANCE


def clone_args(args: Sequence[Any]) -> tuple[Any, ...]:
    """Tensors cloned (so each run starts from the same values), other arguments as they are."""
    return tuple(a.clone() if isinstance(a, torch.Tensor) else a for a in args)


def flatten_results(value: Any) -> list[torch.Tensor | None]:
    """An op's return value as a list: a tensor -> [t], a tuple/list -> its items, None -> []."""
    if value is None:
        return []
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [v if isinstance(v, torch.Tensor) or v is None else _not_tensor(v) for v in value]
    return [_not_tensor(value)]


def _not_tensor(value: Any) -> torch.Tensor:
    raise ResultMismatchError(f"expected tensors, a tuple of tensors or None, found {type(value).__name__}")


# float8 outputs are compared to one rounding step of their format: the kernel
# and the reference compute the value to round in float32 by different
# instruction sequences, so a value an ulp from a rounding midpoint lands on
# the neighbouring code (e4m3: 3 mantissa bits, a step of 2**-3 of the value,
# 2**-9 for subnormals; e5m2: 2 bits, 2**-2 and 2**-16).
_FP8_STEP: dict[torch.dtype, tuple[float, float]] = {
    torch.float8_e4m3fn: (2.0**-9, 2.0**-3),
    torch.float8_e5m2: (2.0**-16, 2.0**-2),
}


def compare_tensors(actual: torch.Tensor, expected: torch.Tensor, what: str, atol: float, rtol: float) -> Comparison:
    step = _FP8_STEP.get(expected.dtype)
    if step is not None:
        atol, rtol = max(atol, step[0]), max(rtol, step[1])
    if actual.shape != expected.shape:
        raise ResultMismatchError(
            f"{what}: shape {tuple(actual.shape)} differs from the reference's {tuple(expected.shape)}"
        )
    if actual.numel() == 0:
        return Comparison(0.0, True)
    a = actual.detach().float().cpu()
    e = expected.detach().float().cpu()
    diff = (a - e).abs()
    # NaN where both are NaN counts as equal; a NaN on one side only is a failure.
    both_nan = a.isnan() & e.isnan()
    diff = torch.where(both_nan, torch.zeros_like(diff), diff)
    max_abs = float(diff.max())
    close = bool((diff <= atol + rtol * e.abs()).all())
    return Comparison(max_abs, close)


def compare_results(actual: Any, expected: Any, what: str, atol: float, rtol: float) -> Comparison:
    got, want = flatten_results(actual), flatten_results(expected)
    if len(got) != len(want):
        raise ResultMismatchError(f"{what}: returned {len(got)} tensor(s), the reference returned {len(want)}")
    worst = Comparison(0.0, True)
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        if (g is None) != (w is None):
            raise ResultMismatchError(
                f"{what}: output {i} is {'None' if g is None else 'a tensor'}, the reference's is not"
            )
        if g is None or w is None:
            continue
        worst = _worse(worst, compare_tensors(g, w, f"{what}, output {i}", atol, rtol))
    return worst


def _worse(a: Comparison, b: Comparison) -> Comparison:
    return Comparison(max(a.max_abs, b.max_abs), a.close and b.close)


@dataclasses.dataclass(frozen=True)
class Expected:
    """What the reference did on its own clone of a call's arguments: its
    return value, and the arguments afterwards (for in-place writes)."""

    outputs: Any
    args: tuple[Any, ...]


def expected_results(reference: Callable[..., Any], args: Sequence[Any]) -> Expected:
    theirs = clone_args(args)
    return Expected(reference(*theirs), theirs)


def compare_to_expected(
    fn: Callable[..., Any],
    args: Sequence[Any],
    expected: Expected,
    what: str,
    *,
    atol: float,
    rtol: float,
    check_args: bool = True,
) -> Comparison:
    """Run ``fn`` on a clone of ``args``; compare its outputs, and (``check_args``)
    every tensor argument afterwards, with ``expected``."""
    ours = clone_args(args)
    worst = compare_results(fn(*ours), expected.outputs, what, atol, rtol)
    if not check_args:
        return worst
    for i, (mine, ref) in enumerate(zip(ours, expected.args, strict=True)):
        if isinstance(mine, torch.Tensor) and isinstance(ref, torch.Tensor):
            worst = _worse(worst, compare_tensors(mine, ref, f"{what}, argument {i} after the call", atol, rtol))
    return worst
