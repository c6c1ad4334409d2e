"""Host time per eager call of a decode-sized rms_norm, four ways, in one run.

    python -m pytest benchmarks/test_host_overhead.py --benchmark-json host.json
    python benchmarks/summarize.py host.json

Each round times ``CALLS`` back-to-back calls with no synchronisation inside
the round, after draining the GPU (``torch.cuda.synchronize``, untimed):
``CALLS`` calls queue at most 6 x ``CALLS`` kernels (the reference), fewer than
the launch queue holds, so no launch waits for the GPU and wall time per call
is host time per call. (Rounds were not drained before 2026-11-28; in
that session's H100 run the wrapper measured 27.3 us per call here against
14.6 us in tools/gpu_variants.py's best rounds: see docs/benchmarks.md.) Compared, on the same inputs:

- ``wrapper``: the registered op (``helion_ops.kernels.rms_norm``) as a user calls it;
- ``raw_helion``: ``helion.kernel`` of the same function with the same config,
  as a user of Helion alone would write it;
- ``torch_add``: one ``torch.add`` of the input with itself (one PyTorch op);
- ``reference``: the op's pure-PyTorch reference (six PyTorch ops).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from conftest import needs_cuda, op_module

from helion_ops.core._eager import call_signature

TOKENS, HIDDEN = 8, 4096
CALLS = 100

pytestmark = [needs_cuda, pytest.mark.gpu]


def _inputs() -> tuple[torch.Tensor, torch.Tensor, float]:
    rms = op_module("rms_norm")
    (x, weight, eps), = rms.rms_norm_inputs(tokens=(TOKENS,), hidden=(HIDDEN,)).values()
    return x, weight, eps


def _raw_helion_kernel() -> Callable[..., torch.Tensor]:
    import helion

    rms = op_module("rms_norm")
    wrapper = rms.rms_norm
    x, weight, eps = _inputs()
    key = wrapper.configured.selector.select((x, weight, eps))
    config = wrapper.configured.entries[key].config if key in wrapper.configured.entries else None
    settings = {"config": helion.Config(**config)} if config else {}
    return helion.kernel(wrapper.raw_kernel_func, static_shapes=False, **settings)  # type: ignore[no-any-return]


def _calls(fn: Callable[[], object]) -> Callable[[], None]:
    def many() -> None:
        for _ in range(CALLS):
            fn()

    return many


def _time(benchmark: object, fn: Callable[[], object]) -> None:
    for _ in range(20):  # compile, build plans, fill caches
        fn()
    torch.cuda.synchronize()
    benchmark.extra_info["calls_per_round"] = CALLS  # type: ignore[attr-defined]
    benchmark.pedantic(_calls(fn), setup=torch.cuda.synchronize, rounds=60, warmup_rounds=3)  # type: ignore[attr-defined]
    torch.cuda.synchronize()


@pytest.mark.benchmark(group="host-us-per-call rms_norm 8x4096 bf16")
@pytest.mark.parametrize("path", ["wrapper", "raw_helion", "torch_add", "reference"])
def test_host_time_per_call(benchmark: object, path: str) -> None:
    rms = op_module("rms_norm")
    launcher = None
    x, weight, eps = _inputs()
    if path == "wrapper":
        fn: Callable[[], object] = lambda: rms.rms_norm(x, weight, eps)  # noqa: E731
        torch.testing.assert_close(fn(), rms.rms_norm_reference(x, weight, eps), atol=2e-2, rtol=2e-2)
        fn()
        # The timed calls must be the fast path's: a plan, launching directly.
        plan = rms.rms_norm._plans.get(call_signature((x, weight, eps))) if rms.rms_norm._plans is not None else None
        benchmark.extra_info["plan"] = plan is not None  # type: ignore[attr-defined]
        launcher = getattr(plan, "launcher", None)
        if launcher is not None:
            benchmark.extra_info["direct_launches_before"] = launcher.direct_launches  # type: ignore[attr-defined]
            benchmark.extra_info["fallback_launches_before"] = launcher.fallback_launches  # type: ignore[attr-defined]
    elif path == "raw_helion":
        raw = _raw_helion_kernel()
        fn = lambda: raw(x, weight, eps)  # noqa: E731
        torch.testing.assert_close(fn(), rms.rms_norm_reference(x, weight, eps), atol=2e-2, rtol=2e-2)
    elif path == "torch_add":
        fn = lambda: torch.add(x, x)  # noqa: E731
    else:
        fn = lambda: rms.rms_norm_reference(x, weight, eps)  # noqa: E731
    _time(benchmark, fn)
    if path == "wrapper" and launcher is not None:
        benchmark.extra_info["direct_launches"] = launcher.direct_launches  # type: ignore[attr-defined]
        benchmark.extra_info["fallback_launches"] = launcher.fallback_launches  # type: ignore[attr-defined]
        # The timed calls replayed the host code: the replay's result is checked too.
        benchmark.extra_info["replay"] = getattr(plan, "replay", None) is not None  # type: ignore[attr-defined]
        torch.testing.assert_close(fn(), rms.rms_norm_reference(x, weight, eps), atol=2e-2, rtol=2e-2)
