"""Named input shapes of an op, picked by ``--shapes`` specs (autotune, bench).

An op's input generator returns ``{name: args}`` where a name lists fields,
e.g. ``"hidden=4096,numtokens=8"``. A spec selects every shape whose name has
the spec's field values: ``"numtokens=8"`` picks that token count for every
hidden size, ``"hidden=4096,numtokens=8"`` one shape. Several specs select
the union. A name that is not of the ``field=value`` form is matched whole.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._errors import HelionOpsError

if TYPE_CHECKING:
    import torch

    from ._wrapper import HelionKernelWrapper


class ShapeSpecError(HelionOpsError, ValueError):
    """A ``--shapes`` spec names a field or a value that no shape of the op has."""


class InputGeneratorError(HelionOpsError, TypeError):
    """An op has no input generator, or it cannot make inputs as asked (dtype, device)."""


def parse_fields(name: str) -> dict[str, str]:
    """``"hidden=4096,numtokens=8"`` -> ``{"hidden": "4096", "numtokens": "8"}``; ``{}`` if not of that form."""
    fields: dict[str, str] = {}
    for part in name.split(","):
        field, sep, value = part.partition("=")
        if not sep or not field.strip():
            return {}
        fields[field.strip()] = value.strip()
    return fields


def _generator_kwargs(wrapper: HelionKernelWrapper, dtype: torch.dtype | None, device: Any) -> dict[str, Any]:
    generator = wrapper.input_generator
    if generator is None:
        raise InputGeneratorError(
            f"op {wrapper.op_name!r} has no input generator, so it has no shapes to pick; "
            "pass register_kernel(input_generator=...) returning {name: args}"
        )
    wanted = {k: v for k, v in (("dtype", dtype), ("device", device)) if v is not None}
    if not wanted:
        return {}
    refused = [k for k in wanted if not accepts_argument(wrapper, k)]
    if refused:
        raise InputGeneratorError(
            f"op {wrapper.op_name!r}: its input generator {getattr(generator, '__name__', generator)!r} takes no "
            f"{' or '.join(refused)} argument, so inputs cannot be made with {refused[0]}={wanted[refused[0]]!r}; "
            f"add the parameter to the generator or leave {refused[0]} unset"
        )
    return wanted


def generate_inputs(
    wrapper: HelionKernelWrapper, *, dtype: torch.dtype | None = None, device: Any = None
) -> dict[str, tuple[Any, ...]]:
    """Every named shape of the op's input generator (dtype/device passed on when given)."""
    kwargs = _generator_kwargs(wrapper, dtype, device)
    assert wrapper.input_generator is not None  # checked by _generator_kwargs
    inputs = wrapper.input_generator(**kwargs)
    if not isinstance(inputs, dict) or not all(isinstance(v, tuple) for v in inputs.values()):
        raise InputGeneratorError(
            f"op {wrapper.op_name!r}: its input generator must return a dict {{name: tuple of args}}, "
            f"found {type(inputs).__name__}"
        )
    return inputs


def accepts_argument(wrapper: HelionKernelWrapper, name: str) -> bool:
    """Whether the op's input generator takes ``name`` (e.g. ``device``) as a keyword."""
    if wrapper.input_generator is None:
        return False
    params = inspect.signature(wrapper.input_generator).parameters
    return name in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def shape_names(wrapper: HelionKernelWrapper) -> list[str]:
    """The op's shape names in the generator's order (tensors made on 'meta' where the generator allows)."""
    device = "meta" if accepts_argument(wrapper, "device") else None
    return list(generate_inputs(wrapper, device=device))


def _no_match_reason(spec_fields: dict[str, str], spec: str, names: Sequence[str]) -> str:
    parsed = [parse_fields(n) for n in names]
    if not spec_fields:
        return f"no shape is named {spec!r}"
    for field, value in spec_fields.items():
        values = sorted({p[field] for p in parsed if field in p}, key=_natural)
        if not values:
            known = sorted({f for p in parsed for f in p})
            return f"unknown field {field!r} (fields: {', '.join(known) or 'none, the names are not field=value'})"
        if value not in values:
            return f"field {field!r} has no value {value!r} (values: {', '.join(values)})"
    return f"no shape has all of {spec!r}"


def _natural(value: str) -> tuple[int, int | str]:
    return (0, int(value)) if value.lstrip("-").isdigit() else (1, value)


def matching_names(op_name: str, names: Sequence[str], specs: Sequence[str]) -> list[str]:
    """Names matching any spec, in the given order; ShapeSpecError for a spec matching none."""
    chosen: set[str] = set()
    for raw in specs:
        spec = raw.strip()
        spec_fields = parse_fields(spec) if "=" in spec else {}
        if spec_fields:
            hits = [n for n in names if all(parse_fields(n).get(f) == v for f, v in spec_fields.items())]
        else:
            hits = [n for n in names if n == spec]
        if not hits:
            raise ShapeSpecError(
                f"op {op_name!r}: shape spec {raw!r} matches no shape: {_no_match_reason(spec_fields, spec, names)}. "
                f"Available shapes: {', '.join(names)}. Pass field=value specs such as "
                f"{_example(names)!r} (comma-separated fields must all match; several specs select the union)."
            )
        chosen.update(hits)
    return [n for n in names if n in chosen]


def specs_by_op(
    names_by_op: Mapping[str, Sequence[str]], specs: Sequence[str] | None, doing: str
) -> dict[str, list[str] | None]:
    """The ``--shapes`` specs that apply to each op (None: all its shapes).

    One op: every spec must match one of its shapes. Several ops (``--all``):
    each op takes the specs that match one of its shapes and is left out of
    the result when none does; a spec that matches no op's shape is a
    ShapeSpecError (``doing`` says what the ops are for: "benchmarked", "tuned").
    """
    if not specs:
        return {op: None for op in names_by_op}
    if len(names_by_op) == 1:
        ((op, names),) = names_by_op.items()
        matching_names(op, names, specs)
        return {op: list(specs)}
    chosen: dict[str, list[str] | None] = {}
    used: set[str] = set()
    for op, names in names_by_op.items():
        mine = []
        for spec in specs:
            try:
                matching_names(op, names, [spec])
            except ShapeSpecError:
                continue
            mine.append(spec)
            used.add(spec)
        if mine:
            chosen[op] = mine
    unused = [s for s in specs if s not in used]
    if unused:
        raise ShapeSpecError(
            f"shape spec {unused[0]!r} matches no shape of any op {doing} ({', '.join(names_by_op)}); "
            "`helion-ops list` shows each op's shapes count and the error for a single op names its shapes"
        )
    return chosen


def _example(names: Sequence[str]) -> str:
    for name in names:
        fields = parse_fields(name)
        if fields:
            field, value = next(iter(fields.items()))
            return f"{field}={value}"
    return names[0] if names else "field=value"


def select_shapes(
    wrapper: HelionKernelWrapper,
    specs: Sequence[str] | None,
    *,
    dtype: torch.dtype | None = None,
    device: Any = None,
) -> dict[str, tuple[Any, ...]]:
    """The op's shapes selected by ``specs`` (all of them for None or an empty list), generator order.

    Raises ShapeSpecError naming the op, the bad spec and the available shape
    names when a spec matches nothing; InputGeneratorError when the op has no
    generator or it cannot take the dtype/device asked for.
    """
    inputs = generate_inputs(wrapper, dtype=dtype, device=device)
    if not specs:
        return inputs
    return {name: inputs[name] for name in matching_names(wrapper.op_name, list(inputs), specs)}
