"""Picking named shapes of an op's input generator with --shapes specs."""

from __future__ import annotations

from typing import Any

import helion.language as hl
import pytest
import torch
from op_names import unique

from helion_ops.core import HelionKernelWrapper, register_kernel
from helion_ops.core._shapes import InputGeneratorError, ShapeSpecError, parse_fields, select_shapes, shape_names


def double_rows(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for rows in hl.tile(x.size(0)):
        out[rows, :] = x[rows, :] * 2
    return out


def grid_inputs(
    tokens: tuple[int, ...] = (1, 7, 33),
    hidden: tuple[int, ...] = (5, 64),
    dtype: torch.dtype = torch.float32,
    device: str = "cpu",
) -> dict[str, tuple[Any, ...]]:
    return {
        f"hidden={h},numtokens={t}": (torch.randn(t, h, dtype=dtype, device=device),) for h in hidden for t in tokens
    }


def plain_inputs() -> dict[str, tuple[Any, ...]]:
    return {"small": (torch.randn(3, 5),), "large": (torch.randn(17, 9),)}


def make_op(names: list[str], generator: Any) -> HelionKernelWrapper:
    op = unique("shapes")
    names.append(op)
    return register_kernel(op, input_generator=generator)(double_rows)


def test_no_spec_selects_every_shape_in_generator_order(names: list[str]) -> None:
    wrapper = make_op(names, grid_inputs)
    assert list(select_shapes(wrapper, None)) == list(grid_inputs())
    assert list(select_shapes(wrapper, [])) == list(grid_inputs())
    assert shape_names(wrapper) == list(grid_inputs())


@pytest.mark.parametrize(
    ("specs", "expected"),
    [
        (["numtokens=7"], ["hidden=5,numtokens=7", "hidden=64,numtokens=7"]),
        (["hidden=64"], ["hidden=64,numtokens=1", "hidden=64,numtokens=7", "hidden=64,numtokens=33"]),
        (["hidden=5,numtokens=33"], ["hidden=5,numtokens=33"]),
        ([" numtokens = 1 "], ["hidden=5,numtokens=1", "hidden=64,numtokens=1"]),
        # union, in generator order, without duplicates
        (
            ["numtokens=33", "hidden=5,numtokens=1", "numtokens=33"],
            ["hidden=5,numtokens=1", "hidden=5,numtokens=33", "hidden=64,numtokens=33"],
        ),
    ],
)
def test_specs_select_matching_shapes(names: list[str], specs: list[str], expected: list[str]) -> None:
    assert list(select_shapes(make_op(names, grid_inputs), specs)) == expected


@pytest.mark.parametrize(("dtype", "device"), [(torch.float16, "cpu"), (torch.bfloat16, "meta"), (None, "meta")])
def test_dtype_and_device_reach_the_generator(names: list[str], dtype: torch.dtype | None, device: str) -> None:
    shapes = select_shapes(make_op(names, grid_inputs), ["numtokens=7"], dtype=dtype, device=device)
    for (x,) in shapes.values():
        assert x.dtype == (dtype or torch.float32)
        assert x.device.type == device
        assert x.shape[0] == 7


def test_shape_names_use_meta_tensors_where_the_generator_allows(names: list[str]) -> None:
    seen: list[str] = []

    def spy_inputs(device: str = "cpu") -> dict[str, tuple[Any, ...]]:
        seen.append(device)
        return {"numtokens=3": (torch.empty(3, 4, device=device),)}

    assert shape_names(make_op(names, spy_inputs)) == ["numtokens=3"]
    assert seen == ["meta"]


def test_opaque_names_match_whole(names: list[str]) -> None:
    wrapper = make_op(names, plain_inputs)
    assert list(select_shapes(wrapper, ["large"])) == ["large"]
    assert shape_names(wrapper) == ["small", "large"]
    with pytest.raises(
        ShapeSpecError, match=r"shape spec 'medium' matches no shape: no shape is named 'medium'.*small, large"
    ):
        select_shapes(wrapper, ["medium"])


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("tokens=7", r"unknown field 'tokens' \(fields: hidden, numtokens\)"),
        ("numtokens=8", r"field 'numtokens' has no value '8' \(values: 1, 7, 33\)"),
        ("hidden=5,numtokens=2", r"field 'numtokens' has no value '2'"),
        ("hidden=63", r"field 'hidden' has no value '63' \(values: 5, 64\)"),
    ],
)
def test_bad_spec_names_op_spec_and_available_shapes(names: list[str], spec: str, reason: str) -> None:
    wrapper = make_op(names, grid_inputs)
    with pytest.raises(
        ShapeSpecError, match=rf"op '{wrapper.op_name}': shape spec '{spec}' matches no shape: {reason}"
    ) as info:
        select_shapes(wrapper, ["numtokens=1", spec])
    message = str(info.value)
    assert all(name in message for name in grid_inputs())
    assert isinstance(info.value, ValueError)


def test_spec_whose_fields_exist_but_never_together(names: list[str]) -> None:
    def sparse_inputs() -> dict[str, tuple[Any, ...]]:
        return {"a=1,b=2": (torch.randn(2, 2),), "a=3,b=4": (torch.randn(3, 2),)}

    with pytest.raises(ShapeSpecError, match=r"no shape has all of 'a=1,b=4'"):
        select_shapes(make_op(names, sparse_inputs), ["a=1,b=4"])


def test_op_without_generator(names: list[str]) -> None:
    op = unique("shapes")
    names.append(op)
    wrapper = register_kernel(op)(double_rows)
    with pytest.raises(InputGeneratorError, match=rf"op '{op}' has no input generator.*input_generator="):
        select_shapes(wrapper, None)


def test_generator_without_dtype_parameter(names: list[str]) -> None:
    wrapper = make_op(names, plain_inputs)
    with pytest.raises(InputGeneratorError, match=r"takes no dtype argument.*add the parameter"):
        select_shapes(wrapper, None, dtype=torch.float16)
    # shape_names falls back to the generator's own device
    assert shape_names(wrapper) == ["small", "large"]


@pytest.mark.parametrize(
    ("name", "fields"),
    [("hidden=4096,numtokens=8", {"hidden": "4096", "numtokens": "8"}), ("small", {}), ("a=1,b", {}), ("=3", {})],
)
def test_parse_fields(name: str, fields: dict[str, str]) -> None:
    assert parse_fields(name) == fields
