"""The ``helion-ops`` command run as a user runs it: a subprocess on this CPU
machine, kernels in Triton's interpreter. Covers demo (eager interpreter,
custom-op and HOP capture), list, doctor (with a provenance warning), the
start-up path of ``--help`` and every error a user can provoke: each must end
in one clear line, a non-zero exit code and no traceback."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cli_runner import STAND_IN, assert_clean_error, cli_env, run_cli

from helion_ops.kernels import OPS as SHIPPED_OPS


def test_help_imports_neither_torch_nor_helion() -> None:
    """`helion-ops --help` builds the whole parser (autotune's options too) without the heavy imports."""
    proc = run_cli(["--help"])
    assert proc.returncode == 0, proc.stderr
    for command in ("demo", "list", "doctor", "bench", "autotune", "merge"):
        assert command in proc.stdout
    timed = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "helion_ops.core._cli", "autotune", "--help"],
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert timed.returncode == 0, timed.stderr
    assert "--gpus" in timed.stdout and "--ray" in timed.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in timed.stderr.splitlines() if line.startswith("import time:")}
    assert "helion_ops.core._autotune_cli" in imported
    assert not {"torch", "helion", "triton", "ray", "matplotlib", "helion_ops.dynamo_bridge"} & imported


def test_list_shows_the_six_shipped_ops() -> None:
    """Ops come from the helion_ops.kernels entry point; each with its platform, configs and shapes."""
    proc = run_cli(["list"])
    assert proc.returncode == 0, proc.stderr
    rows = {line.split("│")[1].strip(): line for line in proc.stdout.splitlines() if line.count("│") > 3}
    assert set(SHIPPED_OPS) <= set(rows), proc.stdout
    assert "query, key" in rows["rotary_embedding"]  # the in-place arguments
    assert "residual" in rows["fused_add_rms_norm"]


def test_demo_runs_every_shipped_op_on_cpu() -> None:
    """Eager (interpreter) and torch.compile(fullgraph=True) of all six ops, checked against references,
    then the FX graph of one op with the HOP node."""
    proc = run_cli(["demo"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    table = {line.split("│")[1].strip(): line for line in proc.stdout.splitlines() if line.count("│") > 5}
    for op in SHIPPED_OPS:
        cells = [c.strip() for c in table[op].split("│")[1:-1]]
        dispatch, breaks, eager_err, compiled_err = cells[1], cells[2], float(cells[3]), float(cells[4])
        assert dispatch in ("hop", "custom_op"), table[op]
        assert breaks == "0", table[op]
        assert eager_err <= 5e-2 and compiled_err <= 5e-2, table[op]
        assert cells[-1] == "ok", table[op]
    assert "captured FX graph" in proc.stdout
    assert re.search(r"torch\.ops\.higher_order\.helion_kernel_wrapper_\w+", proc.stdout), proc.stdout


def test_demo_of_one_named_op() -> None:
    proc = run_cli(["demo", "rms_norm"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ops = [line.split("│")[1].strip() for line in proc.stdout.splitlines() if line.count("│") > 5]
    assert ops == ["rms_norm"]


def _tuned_entry(config: dict, torch_version: str) -> dict:
    record = {
        "torch": torch_version,
        "triton": "3.9.0",
        "helion": "1.5.1",
        "gpu": "NVIDIA H100 80GB HBM3",
        "date": "2026-11-20T10:00:00+00:00",
        "tuned_ms": 0.01,
        "default_ms": 0.02,
        "effort": "quick",
        "autotuner": "helion",
        "shape": "hidden=2048,numtokens=1",
        "config": config,
    }
    return {"key": {"hidden": 2048, "numtokens": 1}, "config": config, "provenance": record}


def test_doctor_reports_versions_ops_and_provenance_mismatch(tmp_path: Path) -> None:
    """A user config dir with an entry tuned under another torch: doctor names the op, the versions and what to do."""
    op_dir = tmp_path / "rms_norm"
    op_dir.mkdir()
    config = {"block_sizes": [1], "num_warps": 4}
    (op_dir / "cpu.json").write_text(json.dumps([_tuned_entry(config, "2.11.0")]))
    proc = run_cli(["doctor"], env={"HELION_OPS_CONFIG_DIR": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    for section in ("versions", "bridge capabilities", "machine", "warnings"):
        assert section in proc.stdout
    for op in SHIPPED_OPS:
        assert f"\n{op}  (" in proc.stdout
    warnings = [line for line in proc.stdout.splitlines() if "tuned with torch" in line]
    assert len(warnings) == 1, proc.stdout
    assert "'2.11.0'" in warnings[0] and "helion-ops autotune rms_norm" in warnings[0]


def test_doctor_is_quiet_about_entries_edited_after_tuning(tmp_path: Path) -> None:
    """An entry whose config no longer matches its provenance counts as hand-written: no version warning."""
    op_dir = tmp_path / "rms_norm"
    op_dir.mkdir()
    entry = _tuned_entry({"block_sizes": [1], "num_warps": 4}, "2.11.0")
    entry["config"] = {"block_sizes": [2], "num_warps": 4}
    (op_dir / "cpu.json").write_text(json.dumps([entry]))
    proc = run_cli(["doctor"], env={"HELION_OPS_CONFIG_DIR": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    assert "tuned with torch" not in proc.stdout


@pytest.mark.parametrize(
    ("args", "env", "code", "pattern"),
    [
        pytest.param(["demo", "rms_nrom"], {}, 2, r"no op named 'rms_nrom'.*Did you mean 'rms_norm'", id="unknown-op"),
        pytest.param(
            ["bench", "silu_and_mull"], {}, 2, r"Did you mean 'silu_and_mul'", id="unknown-op-bench"
        ),
        pytest.param(["autotune", "rms_norm"], {}, 3, r"no CUDA GPU is usable here", id="autotune-no-gpu"),
        pytest.param(["bench", "rms_norm"], {}, 3, r"runs on a CUDA GPU and none is usable", id="bench-no-gpu"),
        pytest.param(["bench", "--all"], {}, 3, r"runs on a CUDA GPU", id="bench-all-no-gpu"),
        pytest.param(
            ["bench", "rms_norm", "--shapes", "hidden=7"],
            {},
            2,
            r"op 'rms_norm': shape spec 'hidden=7' matches no shape: field 'hidden' has no value '7'",
            id="bad-shapes-bench",
        ),
        pytest.param(
            ["autotune", "rms_norm", "--shapes", "numtokens=3", "--out", "{tmp}/out"],
            {"HELION_OPS_AUTOTUNER": STAND_IN},
            2,
            r"shape spec 'numtokens=3' matches no shape.*values: 1, 8, 64",
            id="bad-shapes-autotune",
        ),
        pytest.param(
            ["autotune", "rms_norm", "--out", "{file}/configs"],
            {"HELION_OPS_AUTOTUNER": STAND_IN},
            2,
            r"--out '.*/a-file/configs': '.*/a-file' does not exist or is not a directory",
            id="out-under-a-file",
        ),
        pytest.param(
            ["autotune", "rms_norm"],
            {"HELION_OPS_AUTOTUNER": STAND_IN, "HELION_OPS_CONFIG_DIR": "/proc/helion-ops-configs"},
            2,
            r"--out '/proc/helion-ops-configs': cannot write in '/proc'.*choose a writable directory",
            id="config-dir-unwritable",
        ),
        pytest.param(
            ["autotune", "rms_norm", "--out", "/proc/helion-ops-configs"],
            {"HELION_OPS_AUTOTUNER": STAND_IN},
            2,
            r"--out '/proc/helion-ops-configs': cannot write in '/proc'",
            id="out-unwritable",
        ),
        pytest.param(["autotune", "--ray", "rms_norm"], {}, 2, r"expected a Ray address.*put the ops first", id="ray-op"),
        pytest.param(["autotune", "rms_norm", "--gpus", "two"], {"HELION_OPS_AUTOTUNER": STAND_IN}, 2, r"--gpus expects", id="gpus-word"),
        pytest.param(["autotune", "rms_norm", "--effort", "max"], {}, 2, r"invalid choice: 'max'", id="bad-effort"),
        pytest.param(["autotune", "rms_norm", "--all"], {}, 2, r"name ops or pass --all, not both", id="op-and-all"),
        pytest.param(["bench", "rms_norm", "--plot", "out.txt"], {}, 2, r"--plot 'out.txt': expected a file ending", id="plot-suffix"),
        pytest.param([], {}, 2, r"required: COMMAND", id="no-command"),
        pytest.param(
            ["autotune", "rms_norm", "--platform", "../evil", "--dry-run", "--out", "{tmp}/out"],
            {"HELION_OPS_AUTOTUNER": STAND_IN},
            2,
            r"--platform: platform '../evil' is not a valid config name",
            id="platform-path",
        ),
        pytest.param(
            ["doctor"],
            {"HELION_OPS_MISSING_CONFIG": "bogus"},
            1,
            r"HELION_OPS_MISSING_CONFIG: expected a missing-config policy, one of error, default, reference; found 'bogus'",
            id="bad-policy-env",
        ),
    ],
)
def test_errors_are_one_clear_line(tmp_path: Path, args: list[str], env: dict[str, str], code: int, pattern: str) -> None:
    """Exit code 2 for usage, 3 when this machine cannot do it; one 'error:' line, no traceback."""
    a_file = tmp_path / "a-file"
    a_file.write_text("not a directory")
    fill = {"{tmp}": str(tmp_path), "{file}": str(a_file)}

    def expand(text: str) -> str:
        for placeholder, value in fill.items():
            text = text.replace(placeholder, value)
        return text

    proc = run_cli([expand(a) for a in args], env={k: expand(v) for k, v in env.items()}, cwd=tmp_path)
    assert_clean_error(proc, code, pattern)
    assert not (tmp_path / "out").exists()
