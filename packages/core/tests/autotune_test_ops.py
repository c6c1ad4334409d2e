"""Test-only ops and the stand-in autotuner for the autotune tests.

Imported by the tests and, by name (``--import autotune_test_ops``), by the
CLI and worker subprocesses, so the op names are fixed (unique to these tests).
The stand-in (``HELION_OPS_AUTOTUNER=autotune_test_ops:fake_autotune``) is
deterministic and fast; environment variables make it misbehave on purpose
(named HELION_OPS_* so that the Ray driver forwards them to its workers):

- HELION_OPS_TEST_LOG: file to append ``op shape worker pid`` to at each call
- HELION_OPS_TEST_SLEEP: seconds each call takes
- HELION_OPS_TEST_KILL_ON + HELION_OPS_TEST_MARKER: SIGKILL its own process on that
  shape, once (the marker file records that it happened)
- HELION_OPS_TEST_FAIL_ON: raise on that shape, every time
- HELION_OPS_TEST_HANG_ON: sleep 600 s on that shape
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Mapping, Sequence
from typing import Any

import helion.language as hl
import torch
from toy_kernels import scale_rows

from helion_ops.core import HelionKernelWrapper, register_kernel

SCALE_OP = "autotune_test_scale"
PICKED_OP = "autotune_test_picked"
VARIANT_OP = "autotune_test_variants"
# The stand-in times the variant below faster than the op's own kernel from this many tokens on.
VARIANT_WINS_FROM = 17
TOKENS = (1, 3, 17, 40)
HIDDEN = (8, 24)


def shift_rows(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for rows in hl.tile(x.size(0)):
        out[rows, :] = x[rows, :] + w[None, :]
    return out


def scale_rows_by_columns(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``scale_rows`` tiled over columns too: the same results, another kernel."""
    out = torch.empty_like(x)
    for rows, cols in hl.tile([x.size(0), x.size(1)]):
        out[rows, cols] = x[rows, cols] * w[None, cols]
    return out


def grid_inputs(
    tokens: Sequence[int] = TOKENS,
    hidden: Sequence[int] = HIDDEN,
    dtype: torch.dtype = torch.float32,
    device: str = "cpu",
) -> dict[str, tuple[Any, ...]]:
    out: dict[str, tuple[Any, ...]] = {}
    for h in hidden:
        w = torch.randn(h, dtype=dtype, device=device)
        for t in tokens:
            out[f"hidden={h},numtokens={t}"] = (torch.randn(t, h, dtype=dtype, device=device), w)
    return out


def shape_name(args: Sequence[Any]) -> str:
    rows, cols = args[0].shape
    return f"hidden={cols},numtokens={rows}"


def size_picker(args: tuple[Any, ...], keys: list[dict[str, Any]]) -> Mapping[str, Any]:
    """Two buckets by token count; the picked key need not have an entry yet."""
    return {"size": "small" if args[0].shape[0] <= 4 else "large"}


scale_op: HelionKernelWrapper = register_kernel(
    SCALE_OP, keys={"hidden": ("x", -1), "numtokens": ("x", 0)}, input_generator=grid_inputs
)(scale_rows)
picked_op: HelionKernelWrapper = register_kernel(PICKED_OP, config_picker=size_picker, input_generator=grid_inputs)(
    shift_rows
)
variant_op: HelionKernelWrapper = register_kernel(
    VARIANT_OP,
    keys={"hidden": ("x", -1), "numtokens": ("x", 0)},
    input_generator=grid_inputs,
    variants={"by_columns": scale_rows_by_columns},
)(scale_rows)


def stand_in_config(rows: int, effort: str) -> dict[str, Any]:
    block = 1
    while block < min(rows, 16):
        block *= 2
    return {"block_sizes": [block], "num_warps": 2 if effort == "full" else 1}


def stand_in_times(rows: int, cols: int) -> tuple[float, float]:
    tuned = rows * cols * 1e-4
    return tuned, tuned * 1.5


def _log(line: str) -> None:
    path = os.environ.get("HELION_OPS_TEST_LOG")
    if path:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (line + "\n").encode())
        finally:
            os.close(fd)


def fake_autotune(
    wrapper: HelionKernelWrapper, args: tuple[Any, ...], effort: str, variant: str | None = None
) -> tuple[dict[str, Any], float, float]:
    """Called once per kernel of the op (``variant`` None: its own function)."""
    name = shape_name(args)
    worker = os.environ.get("HELION_OPS_AUTOTUNE_WORKER", "main")
    _log(f"{wrapper.op_name}{'' if variant is None else '/' + variant} {name} {worker} {os.getpid()}")
    if variant is not None and os.environ.get("HELION_OPS_TEST_FAIL_VARIANT") == variant:
        raise RuntimeError(f"stand-in told to fail variant {variant}")
    marker = os.environ.get("HELION_OPS_TEST_MARKER", "")
    if name == os.environ.get("HELION_OPS_TEST_KILL_ON") and marker and not os.path.exists(marker):
        with open(marker, "w") as handle:
            handle.write(f"{worker} {os.getpid()}\n")
        os.kill(os.getpid(), signal.SIGKILL)
    if name == os.environ.get("HELION_OPS_TEST_FAIL_ON"):
        raise RuntimeError(f"stand-in told to fail on {name}")
    if name == os.environ.get("HELION_OPS_TEST_HANG_ON"):
        time.sleep(600)
    time.sleep(float(os.environ.get("HELION_OPS_TEST_SLEEP", "0")))
    rows, cols = args[0].shape
    tuned_ms, default_ms = stand_in_times(rows, cols)
    if variant is not None:
        # The variant: twice as fast from VARIANT_WINS_FROM tokens on, twice as slow below.
        tuned_ms *= 0.5 if rows >= VARIANT_WINS_FROM else 2.0
        return {"block_sizes": [2, 4], "num_warps": 1}, tuned_ms, default_ms
    return stand_in_config(rows, effort), tuned_ms, default_ms


def read_log(path: os.PathLike[str] | str) -> list[tuple[str, str, str, int]]:
    """(op, shape, worker, pid) per stand-in call, in call order."""
    try:
        text = open(path).read()
    except FileNotFoundError:
        return []
    rows = []
    for line in text.splitlines():
        op, shape, worker, pid = line.split()
        rows.append((op, shape, worker, int(pid)))
    return rows
