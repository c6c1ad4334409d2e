"""Which stored config each generator shape gets (``helion-ops doctor``'s
coverage): exact, nearest, default or none, for ``keys=`` ops and pickers.
Shapes are made on the meta device, so nothing runs a kernel."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from autotune_test_ops import grid_inputs, size_picker
from op_names import unique
from toy_kernels import scale_rows

from helion_ops.core import register_kernel
from helion_ops.core._coverage import KeyMatch, generator_coverage


def write_cpu_configs(directory: Path, op: str, keys: list[dict[str, Any]]) -> None:
    path = directory / op / "cpu.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps([{"key": k, "config": {"block_sizes": [2]}} for k in keys]), encoding="utf-8")


def nearest_tokens_picker(args: tuple[Any, ...], keys: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The entry of this hidden size with the fewest tokens >= the call's (as the
    shipped kernels' pickers choose), None when no entry has the hidden size."""
    rows, hidden = args[0].shape
    same = sorted((k for k in keys if k.get("hidden") == hidden), key=lambda k: k["numtokens"])
    above = [k for k in same if k["numtokens"] >= rows]
    return (above or same or [None])[0]


def coverage(wrapper: Any) -> dict[str, tuple[str, KeyMatch]]:
    return {c.shape: (c.selected_key, c.match) for c in generator_coverage(wrapper)}


def test_a_picker_borrowing_another_shapes_entry_is_nearest_not_exact(names: list[str], tmp_path: Path) -> None:
    op = unique("cover_picker")
    names.append(op)
    write_cpu_configs(tmp_path, op, [{"hidden": 8, "numtokens": 3}, {"hidden": 8, "numtokens": 40}])
    wrapper = register_kernel(op, configs=tmp_path, config_picker=nearest_tokens_picker, input_generator=grid_inputs)(
        scale_rows
    )
    assert coverage(wrapper) == {
        "hidden=8,numtokens=1": ("hidden=8,numtokens=3", KeyMatch.NEAREST),
        "hidden=8,numtokens=3": ("hidden=8,numtokens=3", KeyMatch.EXACT),
        "hidden=8,numtokens=17": ("hidden=8,numtokens=40", KeyMatch.NEAREST),
        "hidden=8,numtokens=40": ("hidden=8,numtokens=40", KeyMatch.EXACT),
        **{f"hidden=24,numtokens={t}": ("default", KeyMatch.NONE) for t in (1, 3, 17, 40)},
    }


def test_a_picker_with_buckets_is_exact_for_every_shape_of_a_tuned_bucket(names: list[str], tmp_path: Path) -> None:
    # size_picker keys shapes by bucket, not by their sizes: autotune tunes one
    # shape per bucket and writes the bucket's key, which serves all of them.
    op = unique("cover_buckets")
    names.append(op)
    write_cpu_configs(tmp_path, op, [{"size": "small"}, {"size": "large"}])
    wrapper = register_kernel(op, configs=tmp_path, config_picker=size_picker, input_generator=grid_inputs)(scale_rows)
    found = coverage(wrapper)
    assert {shape: match for shape, (_, match) in found.items()} == {shape: KeyMatch.EXACT for shape in found}
    assert found["hidden=24,numtokens=3"][0] == "size=small" and found["hidden=24,numtokens=17"][0] == "size=large"


def test_keys_ops_are_exact_nearest_or_default(names: list[str], tmp_path: Path) -> None:
    op = unique("cover_keys")
    names.append(op)
    write_cpu_configs(tmp_path, op, [{}, {"hidden": 8, "numtokens": 3}])
    wrapper = register_kernel(
        op, configs=tmp_path, keys={"hidden": ("x", -1), "numtokens": ("x", 0)}, input_generator=grid_inputs
    )(scale_rows)
    found = coverage(wrapper)
    assert found["hidden=8,numtokens=3"] == ("hidden=8,numtokens=3", KeyMatch.EXACT)
    assert found["hidden=8,numtokens=40"] == ("hidden=8,numtokens=3", KeyMatch.NEAREST)
    assert found["hidden=24,numtokens=1"] == ("hidden=8,numtokens=3", KeyMatch.NEAREST)


GRID = [f"hidden={h},numtokens={t}" for h in (8, 24) for t in (1, 3, 17, 40)]


def test_doctor_suggests_specs_that_select_exactly_the_uncovered_shapes() -> None:
    from helion_ops.core._doctor import shape_specs
    from helion_ops.core._shapes import matching_names

    by_tokens = [n for n in GRID if n.endswith(("numtokens=3", "numtokens=17"))]
    assert shape_specs(by_tokens, GRID) == ["numtokens=3", "numtokens=17"]
    by_hidden = [n for n in GRID if n.startswith("hidden=24,")]
    assert shape_specs(by_hidden, GRID) == ["hidden=24"]
    # No single field selects these two: every shape by name, each a spec the command accepts.
    scattered = ["hidden=8,numtokens=1", "hidden=24,numtokens=40"]
    assert shape_specs(scattered, GRID) == scattered
    assert shape_specs(GRID, GRID) == []  # all of them: no --shapes at all
    for chosen in (by_tokens, by_hidden, scattered):
        assert matching_names("op", GRID, shape_specs(chosen, GRID)) == chosen
