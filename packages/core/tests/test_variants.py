"""Ops with kernel variants (``register_kernel(variants=...)``), in Triton's
CPU interpreter: a call runs the kernel of the entry it selects, entries
name variants the op has, variants stand in for the op's function, compiled
graphs take the custom op and keep the per-call choice, and autotune writes
the fastest variant per key."""

from __future__ import annotations

import dataclasses
import json
import re
import warnings
from pathlib import Path
from typing import Any

import autotune_test_ops as test_ops
import helion.language as hl
import pytest
import torch
from cli_runner import STAND_IN, run_cli
from op_names import unique
from toy_kernels import scale_rows, scale_rows_ref

from helion_ops import dynamo_bridge
from helion_ops.core import (
    ConfigFileError,
    InvalidSettingsError,
    MissingConfigError,
    interpreter_active,
    register_kernel,
    set_missing_config_policy,
)

pytestmark = pytest.mark.skipif(
    torch.cuda.is_available() or not interpreter_active(),
    reason="runs Helion kernels on CPU tensors: needs TRITON_INTERPRET=1 and platform 'cpu'",
)

ROWS = {"block_sizes": [2], "num_warps": 2}
TILES = {"block_sizes": [2, 4], "num_warps": 1}


def scale_rows_plus_one(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Not ``scale_rows``'s result on purpose: which kernel ran shows in the output."""
    out = torch.empty_like(x)
    for rows in hl.tile(x.size(0)):
        out[rows, :] = x[rows, :] * w[None, :] + 1.0
    return out


def scale_rows_other_names(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for rows in hl.tile(x.size(0)):
        out[rows, :] = x[rows, :] * weight[None, :]
    return out


def scale_rows_in_place(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    for rows in hl.tile(x.size(0)):
        x[rows, :] = x[rows, :] * w[None, :]
    return x


def write_configs(directory: Path, op: str, entries: list[dict[str, Any]]) -> None:
    path = directory / op / "cpu.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(entries), encoding="utf-8")


def register(op: str, directory: Path, **extra: Any) -> Any:
    return register_kernel(
        op,
        configs=directory,
        keys={"rows": ("x", 0)},
        reference=scale_rows_ref,
        variants={"plus_one": scale_rows_plus_one},
        **extra,
    )(scale_rows)


def args_of(rows: int) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(rows, 8), torch.randn(8)


ENTRIES = [
    {"key": {"rows": 4}, "config": ROWS},
    {"key": {"rows": 32}, "config": ROWS, "variant": "plus_one"},
]


def test_each_call_runs_the_kernel_of_the_entry_it_selects(names: list[str], tmp_path: Path) -> None:
    op = unique("variants")
    names.append(op)
    write_configs(tmp_path, op, ENTRIES)
    wrapper = register(op, tmp_path)
    assert wrapper.configured.entries["rows=32"].variant == "plus_one"
    assert wrapper.configured.entries["rows=4"].variant is None
    # Any order, twice each: the eager fast path's plans keep the choice per shape.
    for rows in (20, 3, 32, 4, 20, 3):
        x, w = args_of(rows)
        expected = scale_rows_ref(x, w) + (1.0 if rows > 4 else 0.0)
        torch.testing.assert_close(wrapper(x, w), expected)
    big = args_of(32)
    assert wrapper.configured.kernel_for(wrapper.configured.entry_for(big)) is wrapper.configured.kernels["plus_one"]


@pytest.mark.parametrize("dynamic", [False, True])
def test_compiled_graphs_take_the_custom_op_and_choose_per_call(
    names: list[str], tmp_path: Path, dynamic: bool
) -> None:
    op = unique("variants_compiled")
    names.append(op)
    write_configs(tmp_path, op, ENTRIES)
    wrapper = register(op, tmp_path)
    assert dynamo_bridge.prepared_for(wrapper.kernel).side_table_index is None
    frames = 0

    def counting(gm: torch.fx.GraphModule, example_inputs: Any) -> Any:
        nonlocal frames
        frames += 1
        return gm.forward

    torch._dynamo.reset()
    compiled = torch.compile(lambda x, w: wrapper(x, w) * 2.0, backend=counting, fullgraph=True, dynamic=dynamic)
    for rows in (3, 20, 4, 32):
        x, w = args_of(rows)
        expected = (scale_rows_ref(x, w) + (1.0 if rows > 4 else 0.0)) * 2.0
        torch.testing.assert_close(compiled(x, w), expected)
    if dynamic:
        assert frames == 1  # one graph serves both kernels: the choice is inside the custom op


def test_forced_hop_mode_is_refused_with_how_to_fix(names: list[str], tmp_path: Path) -> None:
    if not dynamo_bridge.capabilities().hop_tracing:
        pytest.skip("no HOP on this torch/helion: forced 'hop' is refused for every op")
    op = unique("variants_hop")
    names.append(op)
    write_configs(tmp_path, op, ENTRIES)
    wrapper = register(op, tmp_path)
    torch._dynamo.reset()
    dynamo_bridge.set_mode("hop")
    try:
        with pytest.raises(
            dynamo_bridge.UnsupportedModeError, match=rf"op '{op}' chooses at run time among several kernels.*'auto'"
        ):
            torch.compile(lambda x, w: wrapper(x, w), backend="aot_eager", fullgraph=True)(*args_of(4))
    finally:
        dynamo_bridge.set_mode(None)
        torch._dynamo.reset()


def test_an_op_whose_platform_entries_name_no_variant_keeps_the_hop(names: list[str], tmp_path: Path) -> None:
    """Variants registered but no entry of this platform names one: the op's
    own kernel serves every call, so a HOP node can run it."""
    op = unique("variants_unused")
    names.append(op)
    write_configs(tmp_path, op, [{"key": {"rows": 4}, "config": ROWS}])
    wrapper = register(op, tmp_path)
    assert wrapper.variants and not wrapper.configured.runs_variants
    assert dynamo_bridge.prepared_for(wrapper.kernel).hop_allowed
    if not dynamo_bridge.capabilities().hop_tracing:
        return
    torch._dynamo.reset()
    dynamo_bridge.set_mode("hop")
    try:
        x, w = args_of(4)
        out = torch.compile(lambda x, w: wrapper(x, w), backend="aot_eager", fullgraph=True)(x, w)
        torch.testing.assert_close(out, scale_rows_ref(x, w))
    finally:
        dynamo_bridge.set_mode(None)
        torch._dynamo.reset()


def test_an_entry_for_a_variant_the_op_lacks_is_refused_at_registration(names: list[str], tmp_path: Path) -> None:
    op = unique("variants_unknown")
    names.append(op)
    write_configs(tmp_path, op, [{"key": {"rows": 4}, "config": ROWS, "variant": "by_columns"}])
    with pytest.raises(
        ConfigFileError,
        match=rf"op '{op}': the config entry for key 'rows=4' on platform 'cpu' "
        rf"\({re.escape(str(tmp_path / op / 'cpu.json'))}, entry 0\) is for variant 'by_columns', "
        r"which the op does not have \(its variants: plus_one\)\. Correct the entry's 'variant' field, remove it "
        r"\(the entry then runs the op's own kernel\)",
    ):
        register(op, tmp_path)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (5, r"expected the name of one of the op's kernel variants \(a Python identifier\), found int 5"),
        ("", r"expected the name of one of the op's kernel variants"),
        ("two words", r"expected the name of one of the op's kernel variants"),
        (None, r"expected the name of one of the op's kernel variants"),
        # How reports name the op's own kernel, copied into a file.
        ("main", r"found 'main', the name reports give the op's own kernel.*Remove the field"),
    ],
)
def test_a_variant_field_that_names_no_variant_is_refused_when_read(
    names: list[str], tmp_path: Path, value: Any, message: str
) -> None:
    op = unique("variants_field")
    names.append(op)
    write_configs(tmp_path, op, [{"key": {"rows": 4}, "config": ROWS, "variant": value}])
    with pytest.raises(ConfigFileError, match=rf"cpu\.json, entry 0, field 'variant': {message}"):
        register(op, tmp_path)


@pytest.mark.parametrize(
    ("variants", "message"),
    [
        ({"main": scale_rows_plus_one}, r"variant name 'main' must be a Python identifier other than 'main'"),
        ({"two words": scale_rows_plus_one}, r"variant name 'two words' must be a Python identifier"),
        ({"other": 3}, r"variant 'other' must be a kernel function, found int"),
        ({"other": scale_rows_other_names}, r"variant 'other' takes \(x: .*, weight: .*\), the op's function takes"),
        ({"other": scale_rows_in_place}, r"variant 'other' writes \['x'\] in place, the op's function writes \[\]"),
        ([scale_rows_plus_one], r"variants= must map names to kernel functions, found list"),
    ],
)
def test_a_variant_that_cannot_stand_in_for_the_function_is_refused(
    names: list[str], tmp_path: Path, variants: Any, message: str
) -> None:
    op = unique("variants_bad")
    with pytest.raises(InvalidSettingsError, match=rf"op '{op}': {message}"):
        register_kernel(op, configs=tmp_path, variants=variants)(scale_rows)


def test_mutates_args_declares_the_writes_of_every_variant(names: list[str], tmp_path: Path) -> None:
    op = unique("variants_declared")
    names.append(op)
    wrapper = register_kernel(op, variants={"in_place": scale_rows_in_place}, mutates_args=["x"])(scale_rows)
    assert wrapper.variants == {"in_place": scale_rows_in_place}


def test_calling_another_variants_kernel_directly_follows_the_missing_config_policy(
    names: list[str], tmp_path: Path
) -> None:
    op = unique("variants_direct")
    names.append(op)
    write_configs(tmp_path, op, ENTRIES)
    wrapper = register(op, tmp_path)
    x, w = args_of(32)
    set_missing_config_policy("error")
    try:
        with pytest.raises(
            MissingConfigError,
            match=rf"op '{op}': the config entry for key 'rows=32' is for variant 'plus_one', and variant 'main' "
            r"was called \(call the op itself",
        ):
            wrapper.kernel(x, w)
    finally:
        set_missing_config_policy(None)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        torch.testing.assert_close(wrapper.kernel(x, w), scale_rows_ref(x, w))
    assert any("is for variant 'plus_one'" in str(r.message) for r in record)


# ---------------------------------------------------------------- autotune


def test_autotune_tunes_every_variant_and_writes_the_fastest_per_key(names: list[str], tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = {"HELION_OPS_AUTOTUNER": STAND_IN, "HELION_OPS_TEST_LOG": str(tmp_path / "calls.log")}
    proc = run_cli(
        ["autotune", test_ops.VARIANT_OP, "--import", "autotune_test_ops", "--effort", "quick", "--out", str(out)],
        env=env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # The summary names the variant where it won.
    assert "tuned (by_columns)" in proc.stdout and "with variant by_columns" in proc.stderr
    calls = test_ops.read_log(tmp_path / "calls.log")
    tuned = sorted((op, shape) for op, shape, _, _ in calls)
    shapes = [f"hidden={h},numtokens={t}" for h in test_ops.HIDDEN for t in test_ops.TOKENS]
    op = test_ops.VARIANT_OP
    assert tuned == sorted([(op, s) for s in shapes] + [(f"{op}/by_columns", s) for s in shapes])
    entries = json.loads((out / op / "cpu.json").read_text())
    assert len(entries) == len(shapes)
    for entry in entries:
        tokens, hidden = entry["key"]["numtokens"], entry["key"]["hidden"]
        record = entry["provenance"]
        own_ms = test_ops.stand_in_times(tokens, hidden)[0]
        if tokens >= test_ops.VARIANT_WINS_FROM:
            assert entry["variant"] == "by_columns" and record["variant"] == "by_columns"
            assert record["tuned_ms"] == pytest.approx(own_ms * 0.5)
        else:
            assert "variant" not in entry and "variant" not in record
            assert record["tuned_ms"] == pytest.approx(own_ms)
        assert record["variants_ms"] == pytest.approx(
            {"main": own_ms, "by_columns": own_ms * (0.5 if tokens >= test_ops.VARIANT_WINS_FROM else 2.0)}
        )
    # The written store serves the op (registration checks every entry's
    # variant): a call runs its entry's kernel with the config written for it.
    (out / op).rename(out / "variants_tuned_copy")
    names.append("variants_tuned_copy")
    wrapper = register_kernel(
        "variants_tuned_copy",
        configs=out,
        keys={"hidden": ("x", -1), "numtokens": ("x", 0)},
        variants={"by_columns": test_ops.scale_rows_by_columns},
    )(scale_rows)
    for tokens in (3, 40):
        x, w = torch.randn(tokens, 8), torch.randn(8)
        torch.testing.assert_close(wrapper(x, w), scale_rows_ref(x, w))
        entry = wrapper.configured.entry_for((x, w))
        assert entry is not None and entry.variant == (None if tokens < test_ops.VARIANT_WINS_FROM else "by_columns")
        bound = wrapper.configured.kernel_for(entry).bind((x, w))
        assert bound._config.config["block_sizes"] == entry.config["block_sizes"]


def test_provenance_describes_an_entry_only_on_the_kernel_it_was_tuned_on() -> None:
    """An entry whose variant field was changed by hand runs its config on a
    kernel nobody timed it on: not tuned (--resume re-tunes it, doctor does not
    quote its times)."""
    from helion_ops.core._provenance import make_record, provenance_of, tuned_entry

    record = make_record(
        config=ROWS, tuned_ms=1.0, default_ms=2.0, effort="sweep", autotuner="helion", shape="s", variant="plus_one"
    )
    tuned = tuned_entry({"rows": 8}, ROWS, record, variant="plus_one")
    assert provenance_of(tuned) == record
    edited = dataclasses.replace(tuned, extra={k: v for k, v in tuned.extra.items() if k != "variant"})
    assert provenance_of(edited) is None
    renamed = dataclasses.replace(tuned, extra={**tuned.extra, "variant": "other"})
    assert provenance_of(renamed) is None
    own_record = make_record(config=ROWS, tuned_ms=1.0, default_ms=2.0, effort="sweep", autotuner="helion", shape="s")
    own = tuned_entry({"rows": 8}, ROWS, own_record)
    assert provenance_of(own) == own_record and "variant" not in own.to_json()
    given_one = dataclasses.replace(own, extra={**own.extra, "variant": "plus_one"})
    assert provenance_of(given_one) is None


def test_the_budget_per_shape_is_shared_by_the_ops_kernels(monkeypatch: pytest.MonkeyPatch) -> None:
    from helion_ops.core import _autotune

    budgets: list[tuple[str | None, int | None]] = []

    def fake_helion_autotune(wrapper: Any, args: Any, effort: str, budget: Any, shape: str, seeds: Any, variant: Any) -> Any:
        budgets.append((variant, budget))
        return {"block_sizes": [2]}, 1.0, 2.0, "candidates"

    monkeypatch.setattr(_autotune, "helion_autotune", fake_helion_autotune)
    job = _autotune.Job(
        op=test_ops.VARIANT_OP, module="autotune_test_ops", shape="hidden=8,numtokens=3",
        key={"hidden": 8, "numtokens": 3}, platform="cpu", effort="quick", budget_seconds=61,
    )
    tuned = _autotune.tune_variants(test_ops.variant_op, job, args_of(3), None)
    assert budgets == [(None, 30), ("by_columns", 30)]
    assert tuned.best.variant is None and tuned.variants_ms() == {"main": 1.0, "by_columns": 1.0}


def test_a_failing_variant_is_reported_and_the_others_still_written(tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = {"HELION_OPS_AUTOTUNER": STAND_IN, "HELION_OPS_TEST_FAIL_VARIANT": "by_columns"}
    proc = run_cli(
        ["autotune", test_ops.VARIANT_OP, "--import", "autotune_test_ops", "--shapes", "numtokens=40",
         "--effort", "quick", "--out", str(out)],
        env=env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # Said in the progress line and the summary, not only in the provenance.
    assert "tuned (by_columns failed)" in proc.stdout
    assert "variant by_columns failed: RuntimeError: stand-in told to fail variant by_columns" in proc.stderr
    entries = json.loads((out / test_ops.VARIANT_OP / "cpu.json").read_text())
    assert {e["key"]["hidden"] for e in entries} == set(test_ops.HIDDEN)
    for entry in entries:
        assert "variant" not in entry
        assert entry["provenance"]["variants_ms"]["by_columns"] == (
            "RuntimeError: stand-in told to fail variant by_columns"
        )
