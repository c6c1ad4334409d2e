"""Running the ``helion-ops`` command as a user would: a subprocess of this
Python (``python -m helion_ops.core._cli``), with the test folder on the
import path (for ``--import autotune_test_ops``) and the interpreter on."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

TESTS_DIR = Path(__file__).parent
CLI = [sys.executable, "-m", "helion_ops.core._cli"]
STAND_IN = "autotune_test_ops:fake_autotune"
# Variables of the environment that would change what a test sees.
_CLEARED = ("HELION_OPS_CONFIG_DIR", "HELION_OPS_MISSING_CONFIG", "HELION_OPS_AUTOTUNER", "CUDA_VISIBLE_DEVICES")


def cli_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _CLEARED and not k.startswith("HELION_OPS_TEST_")}
    env["TRITON_INTERPRET"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(TESTS_DIR), env.get("PYTHONPATH", "")) if p)
    env.update(extra or {})
    return env


def run_cli(
    args: Sequence[str], env: Mapping[str, str] | None = None, timeout: float = 600, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], env=cli_env(env), capture_output=True, text=True, timeout=timeout, cwd=cwd
    )


def popen_cli(args: Sequence[str], env: Mapping[str, str] | None = None, cwd: Path | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CLI, *args], env=cli_env(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd
    )


def assert_clean_error(proc: subprocess.CompletedProcess[str], code: int, pattern: str) -> str:
    """The command failed with ``code`` and one error line matching ``pattern``, no traceback."""
    assert proc.returncode == code, f"exit {proc.returncode}, expected {code}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1, proc.stderr
    assert re.search(pattern, errors[0]), errors[0]
    return errors[0]
