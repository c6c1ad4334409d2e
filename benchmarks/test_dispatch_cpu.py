"""CPU micro-benchmark of the eager fast path's own cost: the call signature
and the plan lookup, next to what the full path does instead (config
selection and Helion's bind). Runs without a GPU, so regressions show in CI
machines too:

    TRITON_INTERPRET=1 python -m pytest benchmarks/test_dispatch_cpu.py --benchmark-columns=median,iqr
"""

from __future__ import annotations

import pytest
import torch
from conftest import op_module

from helion_ops.core._eager import call_signature

pytestmark = pytest.mark.benchmark(group="dispatch per call (CPU), rms_norm 8x4096")


@pytest.fixture(scope="module")
def args() -> tuple[torch.Tensor, torch.Tensor, float]:
    rms = op_module("rms_norm")
    (x, weight, eps), = rms.rms_norm_inputs(tokens=(8,), hidden=(4096,), dtype=torch.float32, device="cpu").values()
    return x, weight, eps


def test_signature_and_plan_lookup(benchmark: object, args: tuple[torch.Tensor, torch.Tensor, float]) -> None:
    wrapper = op_module("rms_norm").rms_norm
    plans = {call_signature(args): object()}

    def lookup() -> object:
        return plans.get(call_signature(args))  # type: ignore[arg-type]

    assert lookup() is not None
    benchmark(lookup)  # type: ignore[operator]
    assert wrapper is not None


def test_config_selection(benchmark: object, args: tuple[torch.Tensor, torch.Tensor, float]) -> None:
    selector = op_module("rms_norm").rms_norm.configured.selector
    benchmark(selector.select, args)  # type: ignore[operator]


def test_helion_bind(benchmark: object, args: tuple[torch.Tensor, torch.Tensor, float]) -> None:
    kernel = op_module("rms_norm").rms_norm.kernel
    kernel.bind(args)
    benchmark(kernel.bind, args)  # type: ignore[operator]


@pytest.mark.parametrize("helpers", ["triton", "plain"])
def test_helion_host_code_without_launch(
    benchmark: object, args: tuple[torch.Tensor, torch.Tensor, float], helpers: str
) -> None:
    """What a plan runs besides the launch: Helion's generated host code (output
    allocation, sizes, strides), with Triton's wrapped ``next_power_of_2`` or
    the plain one the bridge gives plans (``_compat.with_plain_triton_helpers``)."""
    from helion_ops.dynamo_bridge import _compat

    kernel = op_module("rms_norm").rms_norm.kernel
    kernel(*args)  # compiles the host code
    host = _compat.compiled_host_function(kernel, args)
    if helpers == "plain":
        host = _compat.with_plain_triton_helpers(host)

    def no_launch(*_: object, **__: object) -> None:
        return None

    benchmark(lambda: host(*args, _launcher=no_launch))  # type: ignore[operator]


def test_host_code_replay_without_launch(benchmark: object, args: tuple[torch.Tensor, torch.Tensor, float]) -> None:
    """What a plan runs instead of the host code once it has a replay
    (``dynamo_bridge._replay``): the generated straight-line code (allocation,
    addresses, the launch call), with a launch function that does nothing.
    Compare with ``test_helion_host_code_without_launch[plain]``."""
    from helion_ops.dynamo_bridge import _compat, _replay

    kernel = op_module("rms_norm").rms_norm.kernel
    kernel(*args)
    host = _compat.with_plain_triton_helpers(_compat.compiled_host_function(kernel, args))
    recorded: list[_replay.RecordedLaunch] = []

    def record(triton_kernel: object, grid: tuple[int, ...], *launch_args: object, **_: object) -> None:
        no_launch = (lambda *_: None, 0, ())
        recorded.append(_replay.RecordedLaunch(triton_kernel, grid, launch_args, no_launch))

    with _compat.recorded_aten_ops() as ops:
        result = host(*args, _launcher=record)
    replay = _replay.build_replay(args, ops, recorded, result, lambda: 0)
    assert replay is not None
    benchmark(replay.run, *args)  # type: ignore[operator]
