"""Kernel variants: more than one Helion kernel behind one op.

Some choices are not config choices: which loop structure a kernel has, say
(fused_add_rms_norm reads its stored sum back in a second pass over the row
at large shapes, where holding the row in registers wins at decode). An op
registered with ``variants={"name": fn}`` gets one configured Helion kernel
per function; each config entry names the one it was tuned for in its
``variant`` field (none: the op's own function), and a call runs the kernel
of the entry it selects. Autotune tunes every variant per key and writes the
fastest.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ._config_entries import MAIN_VARIANT
from ._errors import InvalidSettingsError


def variant_label(name: str | None) -> str:
    return MAIN_VARIANT if name is None else name


def _parameters(fn: Callable[..., Any]) -> list[tuple[str, Any, Any]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


def check_variants(
    op_name: str,
    fn: Callable[..., Any],
    variants: Mapping[str, Callable[..., Any]] | None,
    mutates_args: Sequence[str] | None,
) -> dict[str, Callable[..., Any]]:
    """The variants as a dict, after checking that each can stand in for ``fn``:
    a call is bound, keyed, faked and (inside compiled graphs) declared
    through ``fn``'s signature, so every variant takes the same parameters and
    writes the same ones in place."""
    if not variants:
        return {}
    if not isinstance(variants, Mapping):
        raise InvalidSettingsError(
            f"op {op_name!r}: variants= must map names to kernel functions, found {type(variants).__name__}"
        )
    from helion_ops import dynamo_bridge

    expected = _parameters(fn)
    writes = None if mutates_args is not None else sorted(dynamo_bridge.mutated_parameters(fn))
    checked: dict[str, Callable[..., Any]] = {}
    for name, variant in variants.items():
        if not isinstance(name, str) or not name.isidentifier() or name == MAIN_VARIANT:
            raise InvalidSettingsError(
                f"op {op_name!r}: variant name {name!r} must be a Python identifier other than "
                f"{MAIN_VARIANT!r} (the name reports give the op's own function)"
            )
        if not callable(variant):
            raise InvalidSettingsError(
                f"op {op_name!r}: variant {name!r} must be a kernel function, found {type(variant).__name__}"
            )
        found = _parameters(variant)
        if found != expected:
            raise InvalidSettingsError(
                f"op {op_name!r}: variant {name!r} takes ({_signature(variant)}), the op's function takes "
                f"({_signature(fn)}); a variant must take the same parameters, in the same order with the "
                "same defaults"
            )
        if writes is not None and sorted(dynamo_bridge.mutated_parameters(variant)) != writes:
            raise InvalidSettingsError(
                f"op {op_name!r}: variant {name!r} writes {sorted(dynamo_bridge.mutated_parameters(variant))} "
                f"in place, the op's function writes {writes}; the op declares one set of in-place arguments. "
                "Make them write the same arguments, or pass mutates_args= naming every argument either writes"
            )
        checked[name] = variant
    return checked


def _signature(fn: Callable[..., Any]) -> str:
    return ", ".join(str(p) for p in inspect.signature(fn).replace(return_annotation=inspect.Signature.empty).parameters.values())
