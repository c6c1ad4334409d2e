"""Each shipped op's generated host code can be replayed, and the replay hands
the kernel what the host code would (CPU, Triton's interpreter).

Repeat eager calls on a GPU replay the host code of their plan instead of
running it (the bridge's ``_replay``; the replay's C launch itself runs in the
GPU-marked tests). Here, with launches recorded rather than run: one call of
the op's real host code is recorded, a replay is built from it, then for new
arguments of the same signature the host code and the replay each run with a
recording launcher, and their launches must agree: the grid, every constant,
and every tensor argument as (which input or output, byte offset).
"""

from __future__ import annotations

import importlib
from typing import Any

import pytest
import torch
from hardening_ops import OPS, Op

from helion_ops.core import interpreter_active

_compat = importlib.import_module("helion_ops.dynamo_bridge._compat")
_replay = importlib.import_module("helion_ops.dynamo_bridge._replay")

pytestmark = pytest.mark.skipif(
    torch.cuda.is_available() or not interpreter_active(),
    reason="CPU tensors through Triton's interpreter: needs TRITON_INTERPRET=1 and no GPU",
)


def _host(op: Op, args: tuple[Any, ...]) -> Any:
    # The configured Helion kernel itself, not the wrapper: a plan left by an
    # earlier test would serve the wrapper's call without binding this kernel.
    op.wrapper.kernel(*[a.clone() if isinstance(a, torch.Tensor) else a for a in args])  # compiles
    host = _compat.compiled_host_function(op.wrapper.kernel, args)
    assert host is not None
    return host


def _where(value: Any, args: tuple[Any, ...], outputs: list[torch.Tensor]) -> Any:
    """A launch argument as the test compares it: a scalar as is, an address
    as (input i | output j, byte offset)."""
    if isinstance(value, torch.Tensor):
        value = value.data_ptr()
    elif not (isinstance(value, int) and value > 1 << 20):
        return value
    for kind, tensors in (("input", args), ("output", outputs)):
        for i, t in enumerate(tensors):
            if isinstance(t, torch.Tensor):
                start = t.data_ptr()
                if start <= value < start + max(t.untyped_storage().nbytes(), 1):
                    return (kind, i, value - start)
    return ("unknown address", value)


def _outputs(result: Any) -> list[torch.Tensor]:
    values = result if isinstance(result, (tuple, list)) else [result]
    return [v for v in values if isinstance(v, torch.Tensor)]


@pytest.mark.parametrize("name", sorted(OPS))
def test_replay_launches_what_the_host_code_launches(name: str) -> None:
    op = OPS[name]
    recorded_args = tuple(op.args(tokens=3))
    host = _host(op, recorded_args)

    launches: list[Any] = []

    def recording(kernel: object, grid: tuple[int, ...], *launch_args: object, **options: Any) -> None:
        assert set(options) == {"num_warps", "num_stages"}
        direct = (lambda *a: launches.append(("replay", a)), "function", ())
        launches.append(_replay.RecordedLaunch(kernel, grid, launch_args, direct))

    with _compat.recorded_aten_ops() as ops:
        result = host(*recorded_args, _launcher=recording)
    recorded = [launch for launch in launches if isinstance(launch, _replay.RecordedLaunch)]
    replay = _replay.build_replay(recorded_args, ops, recorded, result, lambda: 0)
    assert replay is not None, f"{name}: its host code does more than allocate, view and launch"

    fresh = tuple(op.args(tokens=3))  # same signature, new tensors
    by_host: list[tuple[Any, ...]] = []
    host_result = host(*fresh, _launcher=lambda k, grid, *a, **o: by_host.append((tuple(grid), a)))
    launches.clear()
    replay_result = replay.run(*fresh)
    by_replay = [args for kind, args in launches if kind == "replay"]
    assert len(by_host) == len(by_replay) == 1

    host_outputs, replay_outputs = _outputs(host_result), _outputs(replay_result)
    assert [(t.shape, t.stride(), t.dtype) for t in host_outputs] == [
        (t.shape, t.stride(), t.dtype) for t in replay_outputs
    ]
    if host_result is None or not isinstance(host_result, (tuple, list)):
        assert type(host_result) is type(replay_result)
    (grid, host_args), replayed = by_host[0], by_replay[0]
    # replay: grid_x, grid_y, grid_z, stream, function, *head (none here), *args
    assert tuple(replayed[:3]) == (*grid, 1, 1)[:3]
    assert [_where(v, fresh, host_outputs) for v in host_args] == [
        _where(v, fresh, replay_outputs) for v in replayed[5:]
    ]
