"""``helion-ops autotune`` on CPU with the deterministic stand-in autotuner
(HELION_OPS_AUTOTUNER=autotune_test_ops:fake_autotune).

Unit tests (in process): the config key each shape is tuned for, job planning
and ``--resume``, the Helion settings passed to each Helion release, the job
queue and the single writer. Command tests (subprocesses, as a user runs it):
the sequential path, retries of a failing job, ``--gpus N`` with one worker
SIGKILLed mid-job, ``--resume`` after the driver itself is SIGKILLed, and
Ray (a local instance, CPUs standing in for GPUs). Every command test checks
the written store: each key once, none lost, provenance inside each entry.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import autotune_test_ops as test_ops
import pytest
from cli_runner import STAND_IN, popen_cli, run_cli

from helion_ops.core import ConfigEntry, ConfigStore
from helion_ops.core._autotune import (
    Job,
    JobResult,
    ResultWriter,
    autotune_settings,
    plan_jobs,
    tuning_key,
)
from helion_ops.core._autotune_parallel import JobQueue
from helion_ops.core._cli_errors import AutotuneError
from helion_ops.core._provenance import make_record
from helion_ops.core._shapes import generate_inputs

OPS = [test_ops.SCALE_OP, test_ops.PICKED_OP]
# One job per (hidden, tokens) for the keyed op; the picker's two buckets for the other.
SCALE_KEYS = {f"hidden={h},numtokens={t}" for h in test_ops.HIDDEN for t in test_ops.TOKENS}
PICKED_KEYS = {"size=small", "size=large"}
ALL_JOBS = {(test_ops.SCALE_OP, k) for k in SCALE_KEYS} | {(test_ops.PICKED_OP, k) for k in PICKED_KEYS}
# The shape each picker bucket is tuned on: the generator's first shape with that key.
PICKED_SHAPE = {"size=small": "hidden=8,numtokens=1", "size=large": "hidden=8,numtokens=17"}
IMPORT = ["--import", "autotune_test_ops"]


def meta_inputs(wrapper: Any) -> dict[str, tuple[Any, ...]]:
    return generate_inputs(wrapper, device="meta")


def stand_in_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"HELION_OPS_AUTOTUNER": STAND_IN, "HELION_OPS_TEST_LOG": str(tmp_path / "calls.log"), **extra}


def store_entries(out: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """(op, key id) -> raw entry of every platform file in ``out``; fails on a key written twice."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(out.glob("*/cpu.json")):
        entries = json.loads(path.read_text())
        kids = [ConfigEntry(e["key"], e["config"]).key_id for e in entries]
        assert len(kids) == len(set(kids)), f"{path}: a key written twice: {kids}"
        for kid, entry in zip(kids, entries, strict=True):
            found[(path.parent.name, kid)] = entry
    return found


def calls(tmp_path: Path, log: str = "calls.log") -> list[tuple[str, str, str, int]]:
    return test_ops.read_log(tmp_path / log)


def assert_complete_store(out: Path, effort: str = "quick") -> None:
    """Every job's entry once, with the stand-in's config and its provenance inside."""
    entries = store_entries(out)
    assert set(entries) == ALL_JOBS
    for (op, kid), entry in entries.items():
        shape = PICKED_SHAPE[kid] if op == test_ops.PICKED_OP else kid
        rows = int(shape.rsplit("=", 1)[1])
        assert entry["config"] == test_ops.stand_in_config(rows, effort), (op, kid)
        record = entry["provenance"]
        assert record["config"] == entry["config"] and record["shape"] == shape
        assert record["autotuner"] == f"stand-in {STAND_IN}" and record["effort"] == effort
        cols = int(shape.split(",")[0].split("=")[1])
        assert (record["tuned_ms"], record["default_ms"]) == pytest.approx(test_ops.stand_in_times(rows, cols))


# ---------------------------------------------------------------- keys and plans (in process)


@pytest.mark.parametrize("shape", ["hidden=8,numtokens=3", "hidden=24,numtokens=40"])
def test_declarative_keys_tune_the_exact_dimensions(shape: str) -> None:
    args = meta_inputs(test_ops.scale_op)[shape]
    assert tuning_key(test_ops.scale_op, shape, args, known_keys=[]) == {
        "hidden": args[0].shape[1],
        "numtokens": args[0].shape[0],
    }


@pytest.mark.parametrize("known", [[], [{"intermediate": 8192, "numtokens": 1}]])
@pytest.mark.parametrize("shape", ["intermediate=4096,numtokens=8", "intermediate=14336,numtokens=16384"])
def test_picker_ops_are_tuned_for_the_key_their_shape_names(shape: str, known: list[dict[str, int]]) -> None:
    """silu_and_mul's picker returns the nearest *known* key id: offered the shape's own key, it picks it,
    so a platform with no (or other) entries still gets one job per shape, not one default job."""
    from helion_ops.kernels import silu_and_mul

    args = meta_inputs(silu_and_mul)[shape]
    fields = dict(part.split("=") for part in shape.split(","))
    assert tuning_key(silu_and_mul, shape, args, known) == {k: int(v) for k, v in fields.items()}


@pytest.mark.parametrize(("shape", "bucket"), [("hidden=8,numtokens=3", "small"), ("hidden=24,numtokens=17", "large")])
def test_picker_returning_a_dict_names_the_key(shape: str, bucket: str) -> None:
    args = meta_inputs(test_ops.picked_op)[shape]
    assert tuning_key(test_ops.picked_op, shape, args, known_keys=[]) == {"size": bucket}


def test_plan_tunes_each_key_once_covering_its_other_shapes(tmp_path: Path) -> None:
    plan = plan_jobs([test_ops.picked_op], specs=None, platform="cpu", effort="quick", out_dir=tmp_path)
    assert {j.key_id: j.shape for j in plan.jobs} == PICKED_SHAPE
    assert sorted(len(j.also_covers) for j in plan.jobs) == [3, 3]
    assert plan.skipped == []


def test_plan_of_a_picker_op_has_one_job_per_shape_on_a_new_platform(tmp_path: Path) -> None:
    from helion_ops.kernels import silu_and_mul

    plan = plan_jobs([silu_and_mul], specs=["numtokens=8"], platform="nvidia_h100", effort="full", out_dir=tmp_path)
    assert sorted(j.key_id for j in plan.jobs) == sorted(
        f"intermediate={n},numtokens=8" for n in (4096, 8192, 11008, 14336)
    )


def test_plan_of_several_ops_takes_each_spec_where_it_matches(tmp_path: Path) -> None:
    """``--all --shapes numtokens=8 hidden=4096``: silu_and_mul has no hidden field, so it takes
    numtokens=8 alone (it used to be left out because hidden=4096 matched none of its shapes)."""
    from helion_ops.kernels import rms_norm, silu_and_mul

    plan = plan_jobs(
        [rms_norm, silu_and_mul], specs=["numtokens=8", "hidden=4096"], platform="nvidia_h100", effort="full", out_dir=tmp_path
    )
    silu_shapes = sorted(j.shape for j in plan.jobs if j.op == "silu_and_mul")
    assert silu_shapes == sorted(f"intermediate={n},numtokens=8" for n in (4096, 8192, 11008, 14336))
    rms_shapes = {j.shape for j in plan.jobs if j.op == "rms_norm"} | {
        s for j in plan.jobs if j.op == "rms_norm" for s in j.also_covers
    }
    assert {f"hidden={h},numtokens=8" for h in (2048, 4096, 5120, 8192)} <= rms_shapes
    assert {s for s in rms_shapes if "hidden=4096" in s} == {
        f"hidden=4096,numtokens={t}" for t in (1, 8, 64, 256, 1024, 4096, 16384)
    }
    assert plan.notes == []


def test_plan_of_several_ops_leaves_out_an_op_no_spec_matches(tmp_path: Path) -> None:
    from helion_ops.kernels import rms_norm, silu_and_mul

    plan = plan_jobs([rms_norm, silu_and_mul], specs=["hidden=4096"], platform="nvidia_h100", effort="full", out_dir=tmp_path)
    assert {j.op for j in plan.jobs} == {"rms_norm"}
    assert plan.notes == ["silu_and_mul: --shapes matches none of its shapes, left out"]


def test_plan_of_several_ops_refuses_a_spec_no_op_matches(tmp_path: Path) -> None:
    from helion_ops.core._shapes import ShapeSpecError
    from helion_ops.kernels import rms_norm, silu_and_mul

    with pytest.raises(ShapeSpecError, match=r"shape spec 'hidden=3' matches no shape of any op tuned \(rms_norm, silu_and_mul\)"):
        plan_jobs([rms_norm, silu_and_mul], specs=["numtokens=8", "hidden=3"], platform="nvidia_h100", effort="full", out_dir=tmp_path)


def _result(job: Job, config: dict[str, Any] | None = None) -> JobResult:
    config = config or {"block_sizes": [2], "num_warps": 1}
    record = make_record(config=config, tuned_ms=1.0, default_ms=2.0, effort="quick", autotuner="test", shape=job.shape)
    return JobResult(job=job, worker="w", config=config, tuned_ms=1.0, default_ms=2.0, provenance=record)


def test_summary_counts_a_job_timed_at_zero_as_tuned(tmp_path: Path) -> None:
    """A timer too coarse for the call can report 0 ms: the job still tuned (no ratio to show)."""
    from helion_ops.core._autotune_report import summary_rows

    job = plan_jobs([test_ops.scale_op], specs=["hidden=8,numtokens=1"], platform="cpu", effort="quick", out_dir=tmp_path).jobs[0]
    zero = dataclasses.replace(_result(job), tuned_ms=0.0)
    (row,) = summary_rows([zero])
    assert row[3:7] == ["tuned", "0.0000", "2.0000", "-"]
    (row,) = summary_rows([JobResult.failure(job, "w", 1, "boom")])
    assert row[3] == "FAILED"


def test_resume_skips_exactly_the_keys_autotune_wrote_unchanged(tmp_path: Path) -> None:
    """Tuned and untouched: skipped. Hand-written, or tuned then edited: tuned again. Never tuned: tuned."""
    plan = plan_jobs([test_ops.scale_op], specs=None, platform="cpu", effort="quick", out_dir=tmp_path)
    jobs = {j.key_id: j for j in plan.jobs}
    writer = ResultWriter(tmp_path)
    tuned = ["hidden=8,numtokens=1", "hidden=24,numtokens=40"]
    for kid in tuned:
        assert writer.write(_result(jobs[kid]))
    edited = jobs["hidden=8,numtokens=3"]
    writer.write(_result(edited))
    store = ConfigStore([tmp_path])
    path = store.path(test_ops.SCALE_OP, "cpu")
    raw = json.loads(path.read_text())
    for entry in raw:
        if entry["key"] == edited.key:
            entry["config"]["num_warps"] = 4  # a hand edit after tuning
    raw.append({"key": {"hidden": 24, "numtokens": 1}, "config": {"num_warps": 8}})  # hand-written
    path.write_text(json.dumps(raw))

    again = plan_jobs([test_ops.scale_op], specs=None, platform="cpu", effort="quick", out_dir=tmp_path, resume=True)
    assert sorted(j.key_id for j in again.skipped) == sorted(tuned)
    assert {j.key_id for j in again.jobs} == SCALE_KEYS - set(tuned)


def test_the_writer_writes_each_job_once_and_never_a_failure(tmp_path: Path) -> None:
    job = plan_jobs([test_ops.scale_op], specs=["hidden=8,numtokens=1"], platform="cpu", effort="quick", out_dir=tmp_path).jobs[0]
    writer = ResultWriter(tmp_path)
    assert not writer.write(JobResult.failure(job, "w", 1, "boom"))
    assert not (tmp_path / test_ops.SCALE_OP).exists()
    assert writer.write(_result(job, {"block_sizes": [1], "num_warps": 1}))
    assert not writer.write(_result(job, {"block_sizes": [4], "num_warps": 1}))  # a late duplicate
    entries = ConfigStore([tmp_path]).load(test_ops.SCALE_OP, "cpu")
    assert list(entries) == ["hidden=8,numtokens=1"]
    assert entries["hidden=8,numtokens=1"].config == {"block_sizes": [1], "num_warps": 1}


# ---------------------------------------------------------------- Helion settings per release


HELION_1_1_TO_1_5 = {
    "static_shapes",
    "autotune_effort",
    "autotune_budget_seconds",
    "autotune_progress_bar",
    "autotune_benchmark_subprocess",
}


@pytest.mark.parametrize(("effort", "budget"), [("full", None), ("quick", 120), ("none", None)])
def test_settings_for_helion_releases_that_have_them(monkeypatch: pytest.MonkeyPatch, effort: str, budget: int | None) -> None:
    """helion 1.1.0, 1.4.0 and 1.5.0 all have these Settings fields (read from their wheels)."""
    monkeypatch.delenv("HELION_AUTOTUNE_BENCHMARK_SUBPROCESS", raising=False)
    settings = autotune_settings(test_ops.scale_op, effort, budget, HELION_1_1_TO_1_5)
    assert settings["autotune_effort"] == effort and settings["static_shapes"] is False
    assert settings["autotune_progress_bar"] is False and settings["autotune_benchmark_subprocess"] is False
    assert settings.get("autotune_budget_seconds") == budget


def test_settings_leave_out_what_this_helion_lacks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELION_AUTOTUNE_BENCHMARK_SUBPROCESS", "1")  # the user's choice stands
    settings = autotune_settings(test_ops.scale_op, "full", None, {"static_shapes", "autotune_effort"})
    assert settings == {"static_shapes": False, "autotune_effort": "full"}


@pytest.mark.parametrize(("effort", "budget", "missing"), [("quick", None, "autotune_effort"), ("full", 60, "autotune_budget_seconds")])
def test_settings_asked_for_but_missing_are_an_error(effort: str, budget: int | None, missing: str) -> None:
    with pytest.raises(AutotuneError, match=rf"op '{test_ops.SCALE_OP}': this helion \(helion .*\) has no setting {missing}"):
        autotune_settings(test_ops.scale_op, effort, budget, {"static_shapes"})


def test_settings_of_this_helion_include_the_options() -> None:
    from helion_ops.core._autotune import helion_setting_names

    assert HELION_1_1_TO_1_5 <= helion_setting_names()


def test_the_real_tuning_kernel_binds_with_these_settings_and_its_default_config_stores() -> None:
    """The real (GPU) path up to the autotuner, on CPU: this Helion accepts the settings, binds the op's
    function to the job's arguments, and the default config it reports is a valid stored config."""
    from helion_ops.core._autotune import bind_for_tuning
    from helion_ops.core._config_entries import validate_config

    args = test_ops.grid_inputs(tokens=(3,), hidden=(8,))["hidden=8,numtokens=3"]
    bound = bind_for_tuning(test_ops.scale_op, args, "quick", 30)
    assert bound.settings.autotune_effort == "quick" and bound.settings.autotune_budget_seconds == 30
    assert bound.settings.static_shapes is False and bound.settings.autotune_progress_bar is False
    default = json.loads(bound.config_spec.default_config().to_json())
    assert validate_config(default, "default config") == default


# ---------------------------------------------------------------- the queue


def _job(shape: str, nbytes: int) -> Job:
    return Job(op="op", module="m", shape=shape, key={"s": shape}, platform="cpu", effort="quick", nbytes=nbytes)


def test_queue_gives_the_largest_job_first_and_a_failed_job_to_another_slot() -> None:
    small, big, mid = _job("small", 1), _job("big", 100), _job("mid", 10)
    q = JobQueue([small, big, mid], slots=2)
    assert q.get("a") == (big, 1)
    q.retry(big, 2, frozenset({"a"}))
    assert q.get("a") == (mid, 1)  # not the job that just failed on it
    assert q.get("b") == (big, 2)
    q.retry(big, 3, frozenset({"a", "b"}))  # failed everywhere: anyone may take it
    assert q.get("a") == (big, 3)
    assert q.get("b") == (small, 1)
    q.close()
    assert q.get("a") is None


# ---------------------------------------------------------------- the command


def test_sequential_run_writes_every_key_and_summarises(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run_cli(["autotune", *OPS, *IMPORT, "--effort", "quick", "--out", str(out)], env=stand_in_env(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert_complete_store(out)
    assert sorted((op, s) for op, s, _, _ in calls(tmp_path)) == sorted(
        [(test_ops.SCALE_OP, k) for k in SCALE_KEYS] + [(test_ops.PICKED_OP, s) for s in PICKED_SHAPE.values()]
    )
    assert "tuned vs default" in proc.stdout and "1.50x" in proc.stdout
    assert "10 tuned, 0 failed, 0 skipped" in proc.stdout
    assert "ETA" in proc.stderr  # the progress lines (no terminal here: one line per job)


def test_resume_tunes_only_the_shapes_left(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = run_cli(
        ["autotune", test_ops.SCALE_OP, *IMPORT, "--shapes", "numtokens=1", "numtokens=40", "--out", str(out)],
        env=stand_in_env(tmp_path, HELION_OPS_TEST_LOG=str(tmp_path / "first.log")),
    )
    assert first.returncode == 0, first.stderr
    done = {k for k in SCALE_KEYS if k.endswith(("numtokens=1", "numtokens=40"))}
    assert {s for _, s, _, _ in calls(tmp_path, "first.log")} == done
    second = run_cli(
        ["autotune", test_ops.SCALE_OP, *IMPORT, "--resume", "--out", str(out)],
        env=stand_in_env(tmp_path, HELION_OPS_TEST_LOG=str(tmp_path / "second.log")),
    )
    assert second.returncode == 0, second.stderr
    assert sorted(s for _, s, _, _ in calls(tmp_path, "second.log")) == sorted(SCALE_KEYS - done)
    assert "4 job(s) tuned before, skipped (--resume)" in second.stderr
    assert set(store_entries(out)) == {(test_ops.SCALE_OP, k) for k in SCALE_KEYS}
    third = run_cli(["autotune", test_ops.SCALE_OP, *IMPORT, "--resume", "--out", str(out)], env=stand_in_env(tmp_path))
    assert third.returncode == 0 and "nothing to tune" in third.stdout


@pytest.mark.parametrize("workers", [None, "2"])
def test_a_failing_job_is_retried_then_reported_and_nothing_written_for_it(tmp_path: Path, workers: str | None) -> None:
    """Sequential: the same process tries again; --gpus 2: the retry goes to the other worker."""
    out = tmp_path / "out"
    bad = "hidden=24,numtokens=3"
    gpus = ["--gpus", workers] if workers else []
    proc = run_cli(
        ["autotune", test_ops.SCALE_OP, *IMPORT, "--retries", "1", *gpus, "--out", str(out)],
        env=stand_in_env(tmp_path, HELION_OPS_TEST_FAIL_ON=bad),
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    tries = [w for _, s, w, _ in calls(tmp_path) if s == bad]
    assert len(tries) == 2
    if workers:
        assert len(set(tries)) == 2, tries
    assert set(store_entries(out)) == {(test_ops.SCALE_OP, k) for k in SCALE_KEYS - {bad}}
    failed = [line for line in proc.stdout.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 1 and bad in failed[0] and "stand-in told to fail" in failed[0] and "2 attempt(s)" in failed[0]
    assert "7 tuned, 1 failed" in proc.stdout


def test_a_worker_killed_mid_job_has_its_job_redone_elsewhere(tmp_path: Path) -> None:
    """--gpus 3 (simulated on CPU): the worker tuning the largest shape SIGKILLs itself once; the job
    goes to another worker, a new worker takes the dead one's place, and the store ends complete."""
    out = tmp_path / "out"
    victim = "hidden=24,numtokens=40"
    marker = tmp_path / "killed"
    proc = run_cli(
        ["autotune", *OPS, *IMPORT, "--gpus", "3", "--effort", "quick", "--out", str(out)],
        env=stand_in_env(
            tmp_path, HELION_OPS_TEST_KILL_ON=victim, HELION_OPS_TEST_MARKER=str(marker), HELION_OPS_TEST_SLEEP="0.3"
        ),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert marker.exists()
    log = calls(tmp_path)
    runs = [(w, pid) for op, s, w, pid in log if (op, s) == (test_ops.SCALE_OP, victim)]
    assert len(runs) == 2 and runs[0][0] != runs[1][0], runs  # redone on another worker
    others = [(op, s) for op, s, _, _ in log if (op, s) != (test_ops.SCALE_OP, victim)]
    assert len(others) == len(set(others)) == len(ALL_JOBS) - 1  # everything else exactly once
    assert len({w for _, _, w, _ in log}) == 3
    assert "killed by SIGKILL" in proc.stderr
    assert_complete_store(out)


def test_a_hung_job_is_killed_at_the_job_timeout_retried_elsewhere_then_reported(tmp_path: Path) -> None:
    """--job-timeout counts from the job's hand-over (the workers' start-up takes longer than the timeout here)."""
    out = tmp_path / "out"
    hung = "hidden=8,numtokens=17"
    proc = run_cli(
        ["autotune", test_ops.SCALE_OP, *IMPORT, "--gpus", "2", "--job-timeout", "5", "--retries", "1", "--out", str(out)],
        env=stand_in_env(tmp_path, HELION_OPS_TEST_HANG_ON=hung),
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    tries = [w for _, s, w, _ in calls(tmp_path) if s == hung]
    assert len(tries) == 2 and len(set(tries)) == 2, tries
    assert set(store_entries(out)) == {(test_ops.SCALE_OP, k) for k in SCALE_KEYS - {hung}}
    failed = [line for line in proc.stdout.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 1 and hung in failed[0] and "ran past the job timeout of 5s" in failed[0]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


@pytest.fixture
def killed_driver(tmp_path: Path) -> Iterator[Any]:
    procs: list[Any] = []
    yield procs
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.communicate()


def test_resume_after_the_driver_is_killed(tmp_path: Path, killed_driver: list[Any]) -> None:
    """SIGKILL the driver of a --gpus 2 run once 3 entries are written: the store stays valid JSON, its
    workers die with it, and --resume tunes exactly the keys not yet written."""
    out = tmp_path / "out"
    args = ["autotune", *OPS, *IMPORT, "--gpus", "2", "--effort", "quick", "--out", str(out)]
    driver = popen_cli(args, env=stand_in_env(tmp_path, HELION_OPS_TEST_SLEEP="1.5"))
    killed_driver.append(driver)
    deadline = time.monotonic() + 300
    while len(_safe_entries(out)) < 3:
        assert driver.poll() is None, driver.communicate()
        assert time.monotonic() < deadline, "no 3 entries within 300 s"
        time.sleep(0.2)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    written = set(store_entries(out))  # parses: never a half-written file
    assert 3 <= len(written) < len(ALL_JOBS)
    worker_pids = {pid for _, _, _, pid in calls(tmp_path)}
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in worker_pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in worker_pids if _alive(pid)], "workers outlived their driver"

    resumed = run_cli([*args, "--resume"], env=stand_in_env(tmp_path, HELION_OPS_TEST_LOG=str(tmp_path / "resume.log")))
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    redone = {(op, s) for op, s, _, _ in calls(tmp_path, "resume.log")}
    by_shape = {(op, PICKED_SHAPE[k] if op == test_ops.PICKED_OP else k) for op, k in ALL_JOBS - written}
    assert redone == by_shape
    assert f"{len(written)} job(s) tuned before, skipped (--resume)" in resumed.stderr
    assert_complete_store(out)


def _safe_entries(out: Path) -> dict[tuple[str, str], dict[str, Any]]:
    try:
        return store_entries(out)
    except (json.JSONDecodeError, FileNotFoundError):  # pragma: no cover - a torn file fails below
        raise AssertionError("a config file was read half-written") from None


def test_dry_run_plans_the_shipped_ops_without_a_gpu() -> None:
    """--dry-run with --platform plans on CPU (meta tensors): silu_and_mul (a picker op) gets one job per shape."""
    proc = run_cli(["autotune", "silu_and_mul", "--platform", "nvidia_h100", "--shapes", "numtokens=8", "--dry-run"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "4 job(s) for platform nvidia_h100" in proc.stdout
    for n in (4096, 8192, 11008, 14336):
        assert f"intermediate={n},numtokens=8" in proc.stdout


def test_ray_local_runs_the_same_jobs(tmp_path: Path) -> None:
    """--ray with a local Ray instance whose tasks ask for one CPU instead of one GPU (HELION_OPS_RAY_NUM_CPUS)."""
    pytest.importorskip("ray")
    out = tmp_path / "out"
    proc = run_cli(
        ["autotune", *OPS, *IMPORT, "--effort", "quick", "--out", str(out), "--ray"],
        env=stand_in_env(tmp_path, HELION_OPS_RAY_NUM_CPUS="1"),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    log = calls(tmp_path)
    assert len(log) == len(ALL_JOBS)
    assert os.getpid() not in {pid for *_, pid in log}
    assert "ray:" in proc.stdout  # the worker column names the Ray node and process
    assert_complete_store(out)


def test_rich_progress_shows_a_line_per_worker_and_the_eta() -> None:
    """On a terminal: one bar for the run (with its ETA) and one line per GPU naming the job it tunes."""
    import io

    from rich.console import Console

    from helion_ops.core._autotune_report import RichReporter

    out = io.StringIO()
    reporter = RichReporter(Console(file=out, force_terminal=True, width=150))
    jobs = [_job("hidden=8,numtokens=1", 1), _job("hidden=8,numtokens=3", 2)]
    reporter.start(len(jobs), ["gpu0", "gpu1"])
    reporter.started("gpu0", jobs[0], 1)
    reporter.started("gpu1", jobs[1], 1)
    reporter.progress.refresh()
    live = out.getvalue()
    assert "gpu0: op hidden=8,numtokens=1" in live and "gpu1: op hidden=8,numtokens=3" in live
    assert "ETA" in live and "0/2" in live
    reporter.finished("gpu0", JobResult.failure(jobs[0], "gpu0", 1, "boom"), retry=True)
    reporter.finished("gpu1", _result(jobs[1]), retry=False)
    reporter.progress.refresh()
    reporter.stop()
    assert "failed, will retry: boom" in out.getvalue() and "1/2" in out.getvalue()


def test_portable_config_drops_fields_at_their_default() -> None:
    """A tuned config is written without the fields that equal the default
    config's (they mean nothing, and an older helion may not know them: helion
    1.5.0 writes host_tensor_descriptors=False, which 1.4.0 refuses); the core
    fields stay, as in vLLM's files."""
    from helion_ops.core._autotune import portable_config

    default = {"block_sizes": [1], "num_warps": 4, "num_stages": 1, "host_tensor_descriptors": False, "pid_type": "flat"}
    tuned = {"block_sizes": [1], "num_warps": 16, "num_stages": 1, "host_tensor_descriptors": False, "pid_type": "persistent_blocked"}
    assert portable_config(tuned, default) == {
        "block_sizes": [1],
        "num_warps": 16,
        "num_stages": 1,
        "pid_type": "persistent_blocked",
    }
    # A field the default lacks is kept whatever its value.
    assert portable_config({"num_warps": 4, "maxnreg": None}, {"num_warps": 4}) == {"num_warps": 4, "maxnreg": None}
