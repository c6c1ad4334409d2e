"""``helion-ops bench`` pieces that run without a GPU: bytes accounting, the
timing method per shape, the table, the JSON records and the plot (made from
synthetic measurement rows, not a benchmark), and the command's refusal on
CPU. The timing itself (flushed medians, CUDA graphs, the copy ceiling) needs a GPU."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from cli_runner import assert_clean_error, run_cli

from helion_ops.core import interpreter_active
from helion_ops.core._bench import Measurement, bytes_moved, json_records, table_rows, write_json
from helion_ops.core._timing import CUDAGRAPH, FLUSHED, timing_method

CEILING = 3.0  # TB/s
MB = 1 << 20
ENV = {"device": "NVIDIA H100 80GB HBM3", "platform": "nvidia_h100", "torch": "2.11.0"}


def synthetic_rows() -> list[Measurement]:
    """Two ops, two shapes each; helion faster than inductor on one shape, Liger missing for one op."""
    rows = []
    for op, shapes in (("rms_norm", ("hidden=4096,numtokens=8", "hidden=4096,numtokens=4096")), ("silu_and_mul", ("intermediate=4096,numtokens=8",))):
        for i, shape in enumerate(shapes):
            nbytes = (i + 1) * 64 * MB
            for contender, ms in (("helion", 0.05), ("torch", 0.2), ("inductor", 0.08), ("liger", 0.06)):
                if op == "silu_and_mul" and contender == "liger":
                    rows.append(Measurement(op, shape, contender, CUDAGRAPH, nbytes, None, note="not installed"))
                    continue
                rows.append(Measurement(op, shape, contender, CUDAGRAPH if i == 0 else FLUSHED, nbytes, ms * (i + 1), 0.0, True))
            if op == "rms_norm":  # a same-size copy, as runs from 2026-11-28 on time (older JSON has none)
                rows.append(Measurement(op, shape, "copy", CUDAGRAPH if i == 0 else FLUSHED, nbytes, 0.04 * (i + 1)))
    return rows


# ---------------------------------------------------------------- bytes and timing method


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("out_of_place", 4096 + 8192 + 4096),  # x and weight read, a new output written
        ("in_place", 4096 + 2 * 4096),  # x read, residual read and written in place
        ("returns_input", 4096 + 4096),  # the returned tensor is the argument: its write, counted once
    ],
)
def test_bytes_moved(case: str, expected: int) -> None:
    x = torch.zeros(1024, dtype=torch.float32)  # 4096 bytes
    if case == "out_of_place":
        args, outputs, mutated = (x, torch.zeros(2048)), torch.zeros(1024), ()
    elif case == "in_place":
        residual = torch.zeros(1024)
        args, outputs, mutated = (x, residual), None, (1,)
    else:
        args, outputs, mutated = (x,), x, ()
    assert bytes_moved(args, outputs, mutated) == expected


@pytest.mark.parametrize(
    ("shape", "tokens", "method"),
    [("hidden=4096,numtokens=256", 256, CUDAGRAPH), ("hidden=4096,numtokens=1024", 1024, FLUSHED), ("odd", 8, CUDAGRAPH), ("odd", 4096, FLUSHED)],
)
def test_decode_shapes_replay_cuda_graphs(shape: str, tokens: int, method: str) -> None:
    """Up to 256 tokens (from the name, else the first tensor's rows) the kernels run for microseconds: CUDA graphs."""
    assert timing_method(shape, (torch.empty(tokens, 8, device="meta"),)) == method


# ---------------------------------------------------------------- table and JSON


def test_table_has_percent_of_ceiling_and_speedup_over_the_best_baseline() -> None:
    columns, rows = table_rows(synthetic_rows(), CEILING)
    assert columns[-1] == "speed-up"
    first = dict(zip(columns, rows[0], strict=True))
    helion_tbps = 64 * MB / 0.05e-3 / 1e12
    assert first["helion TB/s"] == f"{helion_tbps:.2f} ({100 * helion_tbps / CEILING:.0f}%)"
    assert first["speed-up"] == "1.20x vs liger"  # liger 0.06 ms beats inductor 0.08 ms
    silu = dict(zip(columns, rows[2], strict=True))
    assert silu["liger TB/s"] == "n/a" and silu["speed-up"] == "1.60x vs inductor"


def test_json_records_round_trip(tmp_path: Path) -> None:
    rows = synthetic_rows()
    records = json_records(rows, CEILING, ENV, "bf16")
    path = tmp_path / "bench.json"
    write_json(path, records)
    loaded = json.loads(path.read_text())
    assert loaded == records and len(loaded) == len(rows)
    helion = next(r for r in loaded if r["contender"] == "helion" and r["shape"] == "hidden=4096,numtokens=4096")
    assert helion["tbps"] == pytest.approx(128 * MB / 0.1e-3 / 1e12)
    assert helion["pct_of_copy_ceiling"] == pytest.approx(100 * helion["tbps"] / CEILING)
    assert helion["copy_ceiling_tbps"] == CEILING and helion["device"] == ENV["device"] and helion["dtype"] == "bf16"
    missing = next(r for r in loaded if r["contender"] == "liger" and r["op"] == "silu_and_mul")
    assert missing["ms"] is None and missing["tbps"] is None and missing["note"] == "not installed"


def test_json_to_an_unwritable_path_is_a_clear_error(tmp_path: Path) -> None:
    from helion_ops.core._cli_errors import OutputPathError

    with pytest.raises(OutputPathError, match=r"--json '.*/missing/b.json': cannot write the results"):
        write_json(tmp_path / "missing" / "b.json", [])


# ---------------------------------------------------------------- the plot


def _line_data(ax: Any) -> dict[str, list[float]]:
    return {line.get_label(): [float(y) for y in line.get_ydata()] for line in ax.get_lines()}


def test_plot_has_shapes_on_x_tbps_on_y_and_the_ceiling_line(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from helion_ops.core import write_bench_plot
    from helion_ops.core._bench_plot import build_figure

    records = json_records(synthetic_rows(), CEILING, ENV, "bf16")
    fig = build_figure(records, CEILING, title="test")
    axes = fig.get_axes()
    assert [ax.get_title() for ax in axes] == ["rms_norm", "silu_and_mul"]
    rms = axes[0]
    assert [t.get_text() for t in rms.get_xticklabels()] == ["hidden=4096,numtokens=8", "hidden=4096,numtokens=4096"]
    assert rms.get_ylabel() == "TB/s"
    lines = _line_data(rms)
    ceiling = [label for label in lines if label.startswith("copy ceiling")]
    assert len(ceiling) == 1 and set(lines[ceiling[0]]) == {CEILING}
    expected = [r["tbps"] for r in records if r["op"] == "rms_norm" and r["contender"] == "helion"]
    assert lines["helion"] == pytest.approx(expected)
    assert "liger" not in _line_data(axes[1])  # no number for it: no line
    import matplotlib.pyplot as plt

    plt.close(fig)
    # With a copy row per shape: the copy keeps its colour where Liger has no line.
    copies = [{**r, "contender": "copy"} for r in records if r["contender"] == "helion"]
    fig = build_figure(records + copies, CEILING)
    colours = [{line.get_label(): line.get_color() for line in ax.get_lines()} for ax in fig.get_axes()]
    assert colours[0]["copy"] == colours[1]["copy"] and colours[0]["copy"] != colours[0]["liger"]
    plt.close(fig)

    png = tmp_path / "bench.png"
    write_bench_plot(png, records, CEILING)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_keeps_gaps_for_failed_contenders() -> None:
    pytest.importorskip("matplotlib")
    from helion_ops.core._bench_plot import build_figure

    rows = synthetic_rows()
    i = next(i for i, r in enumerate(rows) if r.contender == "helion" and r.shape.endswith("numtokens=4096"))
    rows[i] = Measurement(rows[i].op, rows[i].shape, rows[i].contender, FLUSHED, rows[i].nbytes, None, note="failed: x")
    fig = build_figure(json_records(rows, CEILING, ENV, None), CEILING)
    helion = _line_data(fig.get_axes()[0])["helion"]
    assert not math.isnan(helion[0]) and math.isnan(helion[1])


def test_bench_refuses_on_cpu_before_writing_anything(tmp_path: Path) -> None:
    """No GPU: exit 3 with one line; neither the JSON nor the plot file is created."""
    proc = run_cli(["bench", "--all", "--json", "b.json", "--plot", "b.png"], cwd=tmp_path)
    assert_clean_error(proc, 3, r"`helion-ops bench` runs on a CUDA GPU and none is usable here")
    assert list(tmp_path.iterdir()) == []


def test_fp8_results_are_compared_to_one_rounding_step() -> None:
    """bench checks results before timing; fp8 codes that differ by one e4m3
    step (the kernel and the reference round float32 values computed in
    another order) are a match, two steps are not."""
    from helion_ops.core._compare import compare_tensors

    expected = torch.tensor([256.0, 1.0, 0.0], dtype=torch.float32).to(torch.float8_e4m3fn)
    one_step = torch.tensor([288.0, 1.125, 2.0**-9], dtype=torch.float32).to(torch.float8_e4m3fn)
    two_steps = torch.tensor([320.0, 1.0, 0.0], dtype=torch.float32).to(torch.float8_e4m3fn)
    assert compare_tensors(one_step, expected, "q", 2e-2, 2e-2).close
    assert not compare_tensors(two_steps, expected, "q", 2e-2, 2e-2).close


def _bench_table_module() -> Any:
    """benchmarks/bench_table.py (a script of the repository, not of a package)."""
    import importlib.util

    path = Path(__file__).resolve().parents[3] / "benchmarks" / "bench_table.py"
    spec = importlib.util.spec_from_file_location("bench_table", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_table_merges_processes_and_names_each_ops_worst_shape(tmp_path: Path, capsys: Any) -> None:
    pytest.importorskip("matplotlib")
    env = {**ENV, "triton": "3.6.0", "helion": "1.5.0"}
    rows = synthetic_rows()
    first = json_records([r for r in rows if r.op == "rms_norm"], CEILING, env, None)
    second = json_records([r for r in rows if r.op == "silu_and_mul"], 3.2, env, None)
    slow = next(r for r in first if r["contender"] == "helion" and r["shape"].endswith("numtokens=4096"))
    slow.update(ms=0.13, pct_of_copy_ceiling=33.0)  # 0.12 ms for liger: 0.92x the best baseline
    kept = "triton_poi_fused_0: XBLOCK=512 num_warps=8 num_stages=1 regs=13"
    next(r for r in first if r["contender"] == "inductor" and r["shape"] == slow["shape"]).update(config=kept)
    files = []
    for name, records in (("a.json", first), ("b.json", second)):
        files.append(tmp_path / name)
        files[-1].write_text(json.dumps(records), encoding="utf-8")

    assert _bench_table_module().main([*map(str, files), "--plot", str(tmp_path / "merged.png")]) == 0
    out = capsys.readouterr().out
    assert "copy ceiling 3.00-3.20 TB/s (each bench process measured its own, in the run of its rows)" in out
    # helion's 0.13 ms against the copy's 0.08 ms at 128 MB: 62% of a same-size copy.
    assert (
        "| rms_norm | 33% at hidden=4096,numtokens=4096 | 0.92 at hidden=4096,numtokens=4096 "
        "| 62% at hidden=4096,numtokens=4096 |"
    ) in out
    assert "| 0.92 | 1.68 (62%) |" in out  # the row's copy column
    below = out.split("Below 1.0x the faster baseline:")[1].strip().splitlines()
    assert below == [f"- rms_norm hidden=4096,numtokens=4096: helion 130.00 us, liger 120.00 us (0.92x); Inductor kept: {kept}"]
    # silu_and_mul: Liger missing, Inductor 0.08 ms against helion's 0.05.
    assert "| silu_and_mul | 42% at intermediate=4096,numtokens=8 | 1.60 at intermediate=4096,numtokens=8 | - |" in out
    assert (tmp_path / "merged.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_table_takes_a_later_files_rows_in_place_of_an_earlier_ones(tmp_path: Path, capsys: Any) -> None:
    """A re-run of some rows, listed after the whole run, replaces those rows
    in the table (in their place), its noise line and its plot."""
    pytest.importorskip("matplotlib")
    env = {**ENV, "triton": "3.6.0", "helion": "1.5.0"}
    whole = json_records(synthetic_rows(), CEILING, env, None)
    rerun = [dict(r) for r in whole if r["op"] == "rms_norm" and r["shape"].endswith("numtokens=8")]
    for r in rerun:
        r.update(copy_ceiling_tbps=3.1, spread=0.5 if r["contender"] == "inductor" else 0.0)
    helion = next(r for r in rerun if r["contender"] == "helion")
    helion.update(ms=helion["ms"] / 2)
    files = [tmp_path / "whole.json", tmp_path / "rerun.json"]
    for path, records in zip(files, (whole, rerun), strict=True):
        path.write_text(json.dumps(records), encoding="utf-8")

    module = _bench_table_module()
    merged = module.latest_records(whole + rerun)
    assert len(merged) == len(whole)
    assert [(r["op"], r["shape"], r["contender"]) for r in merged] == [(r["op"], r["shape"], r["contender"]) for r in whole]
    assert next(r for r in merged if r is helion)["ms"] == helion["ms"]
    assert module.main([*map(str, files), "--plot", str(tmp_path / "merged.png")]) == 0
    out = capsys.readouterr().out
    assert "largest 50.0% (rms_norm hidden=4096,numtokens=8, inductor)" in out
    assert f"| rms_norm | hidden=4096,numtokens=8 | {helion['bytes'] / 1e6:.1f} | {helion['ms'] * 1e3:.1f} |" in out


def test_plot_draws_one_ceiling_per_run_where_an_ops_rows_come_from_two() -> None:
    pytest.importorskip("matplotlib")
    from helion_ops.core._bench_plot import build_figure

    records = json_records(synthetic_rows(), CEILING, ENV, None)
    records[0]["copy_ceiling_tbps"] = 2.5  # an rms_norm row from another run
    fig = build_figure(records)
    rms, silu = fig.get_axes()
    rms_ceilings = {label: ys for label, ys in _line_data(rms).items() if label.startswith("copy ceiling")}
    assert rms_ceilings == {
        "copy ceiling 2.50 TB/s (run 1 of 2)": [2.5, 2.5],
        f"copy ceiling {CEILING:.2f} TB/s (run 2 of 2)": [CEILING, CEILING],
    }
    assert [label for label in _line_data(silu) if label.startswith("copy ceiling")] == [f"copy ceiling {CEILING:.2f} TB/s"]


def test_plot_refuses_records_without_a_ceiling() -> None:
    pytest.importorskip("matplotlib")
    from helion_ops.core._bench_plot import build_figure

    records = json_records(synthetic_rows(), CEILING, ENV, None)
    for r in records:
        r["copy_ceiling_tbps"] = None
    with pytest.raises(ValueError, match="rms_norm.*expected a copy ceiling.*found none.*pass ceiling_tbps"):
        build_figure(records)


# ---------------------------------------------------------------- measure_shape on a toy op

interpreted = pytest.mark.skipif(
    torch.cuda.is_available() or not interpreter_active(),
    reason="runs a Helion kernel on CPU tensors: needs TRITON_INTERPRET=1",
)


@pytest.fixture
def scale_rows_op(names: list[str]) -> Any:
    """toy_kernels.scale_rows registered with its reference (Helion's default config)."""
    from op_names import unique
    from toy_kernels import scale_rows, scale_rows_ref

    from helion_ops.core import register_kernel

    names.append(unique("bench_toy"))
    return register_kernel(names[-1], reference=scale_rows_ref, missing_config="default")(scale_rows)


@interpreted
def test_repeats_report_the_median_and_record_the_spread(scale_rows_op: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--repeats 3``: each contender is checked once and timed three times;
    the row's time is the median and its spread max/min - 1 is kept (JSON
    ``spread``); with one timing there is no spread."""
    from toy_kernels import scale_rows_ref

    from helion_ops.core import _bench

    wrapper = scale_rows_op
    args = (torch.randn(5, 8), torch.randn(8))
    contenders = [
        _bench.Contender("helion", lambda a: (lambda: wrapper(*a))),
        _bench.Contender("inductor", lambda a: (lambda: scale_rows_ref(*a)), check_args=False),
    ]
    timings = iter([1.0, 1.5, 1.2, 2.0, 2.0, 2.0])
    monkeypatch.setattr(_bench, "time_ms", lambda fn, method: next(timings))
    ours, inductor = _bench.measure_shape(wrapper, "rows=5", args, contenders, "default", repeats=3)
    assert (ours.ms, inductor.ms) == (1.2, 2.0)
    assert ours.spread == pytest.approx(0.5) and inductor.spread == 0.0
    record = json_records([ours, inductor], CEILING, ENV, None)[0]
    assert record["spread"] == pytest.approx(0.5)
    monkeypatch.setattr(_bench, "time_ms", lambda fn, method: 1.0)
    (once, _) = _bench.measure_shape(wrapper, "rows=5", args, contenders, "default")
    assert once.ms == 1.0 and once.spread is None


@interpreted
def test_a_contender_timed_in_place_leaves_the_next_contenders_check_alone(
    scale_rows_op: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every contender is checked against the reference computed once from
    the original arguments; a contender whose timed call writes its arguments
    (an in-place op) must not change what the next one is checked on."""
    from toy_kernels import scale_rows_ref

    from helion_ops.core import _bench

    wrapper = scale_rows_op
    args = (torch.randn(5, 8), torch.randn(8))
    original = [a.clone() for a in args]

    def writes_its_arguments(a: tuple[Any, ...]) -> Any:
        return lambda: a[0].mul_(3.0)

    contenders = [
        _bench.Contender("torch", writes_its_arguments),  # not checked, only timed
        _bench.Contender("inductor", lambda a: (lambda: scale_rows_ref(*a)), check_args=False),
    ]
    monkeypatch.setattr(_bench, "time_ms", lambda fn, method: (fn(), 1.0)[1])
    timed_in_place, checked = _bench.measure_shape(wrapper, "rows=5", args, contenders, "default", repeats=2)
    assert timed_in_place.ms == 1.0
    assert checked.close, checked.max_abs_err
    assert all(torch.equal(a, b) for a, b in zip(args, original, strict=True))


@interpreted
def test_the_inductor_row_records_the_launch_configs_its_autotuning_kept(
    scale_rows_op: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inductor's time at a shape depends on the launch config its autotuning
    kept at the first call: its row's ``config`` names what the bridge's
    recorder saw loaded while it was checked and timed (the recorder itself
    is tested with the bridge); the other rows keep theirs (ours: the stored key)."""
    import contextlib
    from collections.abc import Iterator

    from toy_kernels import scale_rows_ref

    from helion_ops.core import _bench

    kept = "triton_poi_fused_0: XBLOCK=512 num_warps=8 num_stages=1 regs=13"
    compiled_inside: list[bool] = []

    @contextlib.contextmanager
    def recorder() -> Iterator[list[str]]:
        launches: list[str] = []
        compiled_inside.append(False)
        yield launches
        if compiled_inside[-1]:
            launches.append(kept)

    def compiles_a_triton_kernel(a: tuple[Any, ...]) -> Any:
        if compiled_inside:  # prepared inside a recorder's block
            compiled_inside[-1] = True
        return lambda: scale_rows_ref(*a)

    monkeypatch.setattr(_bench.dynamo_bridge, "recorded_inductor_launches", recorder)
    wrapper = scale_rows_op
    args = (torch.randn(5, 8), torch.randn(8))
    contenders = [
        _bench.Contender("helion", lambda a: (lambda: wrapper(*a))),
        _bench.Contender("inductor", compiles_a_triton_kernel, check_args=False),
        _bench.Contender("torch", lambda a: (lambda: scale_rows_ref(*a))),
    ]
    monkeypatch.setattr(_bench, "time_ms", lambda fn, method: 1.0)
    ours, inductor, eager = _bench.measure_shape(wrapper, "rows=5", args, contenders, "rows=5 (exact)")
    assert ours.config == "rows=5 (exact)" and eager.config == ""
    assert inductor.config == "triton_poi_fused_0: XBLOCK=512 num_warps=8 num_stages=1 regs=13"
    assert compiled_inside == [True]  # one recorder, for the inductor row only
    assert json_records([inductor], CEILING, ENV, None)[0]["config"] == inductor.config


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_each_cuda_shape_also_times_a_copy_of_its_bytes(scale_rows_op: Any) -> None:
    """On the GPU a shape's measurements end with a device-to-device copy moving
    the op's bytes, timed the same way (context for the % of the 1 GiB ceiling)."""
    from helion_ops.core import _bench

    wrapper = scale_rows_op
    args = (torch.randn(64, 256, device="cuda"), torch.randn(256, device="cuda"))
    contenders = [_bench.Contender("helion", lambda a: (lambda: wrapper(*a)))]
    ours, copy = _bench.measure_shape(wrapper, "rows=64", args, contenders, "default", repeats=2)
    assert (copy.contender, copy.method) == ("copy", ours.method)
    assert abs(copy.nbytes - ours.nbytes) <= 1 and copy.ms is not None and copy.ms > 0
    assert copy.spread is not None and copy.close is None


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_flushed_call_reads_its_data_from_memory_not_from_the_l2() -> None:
    """A buffer of a quarter of the L2 stays there between back-to-back calls
    (CUDA-graph replays); timed after the flush, the same read is slower:
    the flush evicted it."""
    from helion_ops.core import _timing

    l2_bytes = torch.cuda.get_device_properties(0).L2_cache_size
    data = torch.ones(l2_bytes // 16, dtype=torch.float32, device="cuda")  # a quarter of the L2
    in_l2 = _timing.time_ms(data.sum, _timing.CUDAGRAPH)
    flushed = _timing.time_ms(data.sum, _timing.FLUSHED)
    assert flushed > 1.05 * in_l2, (flushed, in_l2)


def test_repeats_must_be_a_positive_whole_number() -> None:
    for bad in ("0", "two"):
        result = run_cli(["bench", "--all", "--repeats", bad])
        assert_clean_error(result, 2, r"--repeats: .*expected a positive whole number")
