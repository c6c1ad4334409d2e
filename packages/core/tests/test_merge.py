"""``helion-ops merge``: tuned folders into another, per key and atomically, checked before anything is written.

The plan and the writes are tested in process; the command itself (its table,
its one-line errors and exit codes) as a subprocess, as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cli_runner import assert_clean_error, run_cli

from helion_ops.core._cli_errors import CliUsageError, ConfigMergeError
from helion_ops.core._merge import apply_merge, plan_merge, table_rows

OP = "fused_add_rms_norm"


def _entry(key: dict[str, int], warps: int, gpu: str | None = None, ms: float = 0.2, **extra: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"key": key, "config": {"block_sizes": [1], "num_warps": warps}, **extra}
    if gpu is not None:  # as autotune writes it: the config and the kernel variant it was tuned for
        entry["provenance"] = {"gpu": gpu, "tuned_ms": ms, "config": dict(entry["config"]), **extra}
    return entry


def _write(folder: Path, op: str, platform: str, entries: list[dict[str, Any]]) -> Path:
    path = folder / op / f"{platform}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(entries))
    return path


def _warps(path: Path) -> dict[str, int]:
    """key id -> num_warps of a written file ("default" for the empty key)."""
    out = {}
    for entry in json.loads(path.read_text()):
        name = ",".join(f"{k}={v}" for k, v in sorted(entry["key"].items())) or "default"
        out[name] = entry["config"]["num_warps"]
    return out


H100 = "NVIDIA H100 80GB HBM3"
H200 = "NVIDIA H200"
SMALL = {"hidden": 4096, "numtokens": 8}
LARGE = {"hidden": 5120, "numtokens": 16384}


@pytest.fixture
def shipped(tmp_path: Path) -> Path:
    folder = tmp_path / "shipped"
    _write(folder, OP, "nvidia_h100", [_entry({}, 4), _entry(SMALL, 8, H100), _entry(LARGE, 16, H100, ms=0.222)])
    return folder


def test_added_replaced_and_unchanged_keys_and_the_rest_of_the_file_kept(tmp_path: Path, shipped: Path) -> None:
    tuned = tmp_path / "tuned"
    same = _entry(SMALL, 8, H100)
    _write(tuned, OP, "nvidia_h100", [same, _entry(LARGE, 32, H100, ms=0.219, variant="stored_sum"),
                                      _entry({"hidden": 2048, "numtokens": 1}, 2, H100)])
    rows = plan_merge([tuned], shipped)
    actions = {row.new.key_id: row.action for row in rows}
    assert actions == {"hidden=4096,numtokens=8": "same", "hidden=5120,numtokens=16384": "replace",
                       "hidden=2048,numtokens=1": "add"}
    written = apply_merge(rows, shipped)
    path = shipped / OP / "nvidia_h100.json"
    assert written == [path]
    assert _warps(path) == {"default": 4, "hidden=2048,numtokens=1": 2, "hidden=4096,numtokens=8": 8,
                            "hidden=5120,numtokens=16384": 32}
    large = next(e for e in json.loads(path.read_text()) if e["key"] == LARGE)
    assert large["variant"] == "stored_sum" and large["provenance"]["tuned_ms"] == 0.219  # extra fields travel


def test_the_later_source_wins_a_key_and_each_platform_goes_to_its_own_file(tmp_path: Path, shipped: Path) -> None:
    first, second = tmp_path / "machine1", tmp_path / "machine2"
    _write(first, OP, "nvidia_h100", [_entry(LARGE, 8, H100)])
    _write(second, OP, "nvidia_h100", [_entry(LARGE, 32, H100)])
    _write(second, OP, "nvidia_h200", [_entry(LARGE, 16, H200)])
    apply_merge(plan_merge([first, second], shipped), shipped)
    assert _warps(shipped / OP / "nvidia_h100.json")["hidden=5120,numtokens=16384"] == 32
    assert _warps(shipped / OP / "nvidia_h200.json") == {"hidden=5120,numtokens=16384": 16}


def test_filters_by_op_and_platform(tmp_path: Path, shipped: Path) -> None:
    tuned = tmp_path / "tuned"
    _write(tuned, OP, "nvidia_h200", [_entry(LARGE, 16, H200)])
    _write(tuned, "rms_norm", "nvidia_h100", [_entry(LARGE, 16, H100)])
    assert {(r.op, r.platform) for r in plan_merge([tuned], shipped, ops=["rms_norm"])} == {("rms_norm", "nvidia_h100")}
    assert {(r.op, r.platform) for r in plan_merge([tuned], shipped, platforms=["nvidia_h200"])} == {
        (OP, "nvidia_h200")
    }
    with pytest.raises(CliUsageError, match=r"--platforms nvidia_b200: no such config files in the sources"):
        plan_merge([tuned], shipped, platforms=["nvidia_b200"])


def test_an_entry_tuned_on_another_platforms_gpu_is_refused_before_any_write(tmp_path: Path, shipped: Path) -> None:
    tuned = tmp_path / "tuned"
    _write(tuned, "rms_norm", "nvidia_h100", [_entry(SMALL, 2, H100)])  # fine, and sorted first
    source = _write(tuned, OP, "nvidia_h100", [_entry(SMALL, 8, H100), _entry(LARGE, 16, H200)])
    before = (shipped / OP / "nvidia_h100.json").read_text()
    pattern = (
        rf"op '{OP}': an entry \({source}, entry 1\) was tuned on 'NVIDIA H200' \(platform nvidia_h200\) "
        r"but sits in the nvidia_h100 file; .* pass --allow-other-gpu"
    )
    with pytest.raises(ConfigMergeError, match=pattern):
        plan_merge([tuned], shipped)
    assert (shipped / OP / "nvidia_h100.json").read_text() == before
    assert not (shipped / "rms_norm").exists()
    rows = plan_merge([tuned], shipped, allow_other_gpu=True)
    assert [row.action for row in rows if row.op == OP] == ["same", "replace"]


def test_the_command_prints_its_plan_and_dry_run_writes_nothing(tmp_path: Path, shipped: Path) -> None:
    tuned = tmp_path / "tuned"
    _write(tuned, OP, "nvidia_h100", [_entry(LARGE, 32, H100, ms=0.219, variant="stored_sum")])
    before = (shipped / OP / "nvidia_h100.json").read_text()
    proc = run_cli(["merge", str(tuned), "--into", str(shipped), "--dry-run"])
    assert proc.returncode == 0, proc.stderr
    row = next(line for line in proc.stdout.splitlines() if "hidden=5120" in line)
    assert "replace" in row and "own, 222.0 us" in row and "stored_sum, 219.0 us" in row, proc.stdout
    assert "dry run: 0 added, 1 replaced, 0 unchanged; nothing written" in proc.stdout
    assert (shipped / OP / "nvidia_h100.json").read_text() == before
    # A dry run neither writes nor needs to: no folder is made for a missing --into.
    proc = run_cli(["merge", str(tuned), "--into", str(tmp_path / "new"), "--dry-run"])
    assert proc.returncode == 0 and "1 added" in proc.stdout, proc.stderr
    assert not (tmp_path / "new").exists()

    proc = run_cli(["merge", str(tuned), "--into", str(tmp_path / "new")])
    assert proc.returncode == 0, proc.stderr
    assert "1 added, 0 replaced, 0 unchanged; wrote 1 file(s)" in proc.stdout
    assert _warps(tmp_path / "new" / OP / "nvidia_h100.json") == {"hidden=5120,numtokens=16384": 32}


def test_the_table_times_an_entry_only_while_its_provenance_describes_it(tmp_path: Path, shipped: Path) -> None:
    """A config edited after tuning (or a variant set by hand) no longer has the tuned time autotune measured."""
    tuned = tmp_path / "tuned"
    edited = _entry(LARGE, 32, H100, ms=0.219)
    edited["config"]["num_warps"] = 8
    relabelled = _entry(SMALL, 8, H100, variant="stored_sum")
    relabelled["provenance"].pop("variant")
    _write(tuned, OP, "nvidia_h100", [edited, relabelled])
    after = {row[2]: row[5] for row in table_rows(plan_merge([tuned], shipped))}
    assert after == {"hidden=5120,numtokens=16384": "own, untimed", "hidden=4096,numtokens=8": "stored_sum, untimed"}


@pytest.mark.parametrize(
    ("make", "code", "pattern"),
    [
        (lambda t: [str(t / "missing"), "--into", str(t / "out")], 2, r"source '.*missing' is not a directory"),
        (lambda t: [str(t), "--into", str(t)], 2, r"--into '.*' is also a source"),
        (lambda t: [str(t / "shipped"), "--into", str(t / "shipped" / OP / "nvidia_h100.json")], 2,
         r"--into '.*nvidia_h100.json' is a file; give a directory"),
        (lambda t: [str(t / "shipped"), "--dry-run", "--into", str(t / "shipped" / OP / "nvidia_h100.json")], 2,
         r"--into '.*nvidia_h100.json' is a file; give a directory"),
        (lambda t: [str(t / "empty"), "--into", str(t / "out")], 2, r"source '.*empty' holds no <op>/<platform>.json"),
        (lambda t: [str(t / "bad"), "--into", str(t / "out")], 1, r"bad.*nvidia_h100.json"),
        (lambda t: [str(t / "shipped"), "--into", str(t / "out"), "--ops", "nope"], 2,
         r"--ops nope: no such config files in the sources"),
    ],
    ids=["missing-source", "into-is-a-source", "into-is-a-file", "dry-run-into-a-file", "empty-source", "bad-json", "unknown-op-filter"],
)
def test_errors_are_one_clear_line(tmp_path: Path, shipped: Path, make: Any, code: int, pattern: str) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "bad" / OP).mkdir(parents=True)
    (tmp_path / "bad" / OP / "nvidia_h100.json").write_text("[{")
    proc = run_cli(["merge", *make(tmp_path)])
    assert_clean_error(proc, code, pattern)
    assert not (tmp_path / "out").exists()
