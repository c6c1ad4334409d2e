"""The eager fast path (plans by call signature) in Triton's CPU interpreter.

Covers core's side: which calls get a plan, that a plan skips Helion's binding,
that every key, dtype, layout and alignment gets its own plan running its own
config, and that calls without a stored config keep the full path. The
bridge's direct Triton launches only exist on a GPU: see the GPU-marked test
at the end and benchmarks/test_host_overhead.py.
"""

from __future__ import annotations

import json
import threading
import warnings
from pathlib import Path
from typing import Any

import helion
import pytest
import torch
from op_names import unique
from toy_kernels import scale_rows, scale_rows_ref

from helion_ops.core import current_platform, interpreter_active, register_kernel
from helion_ops.core._eager import DIRECT_LAUNCH_ENV_VAR, FAST_PATH_ENV_VAR, PlanCache, call_signature

interpreter_only = pytest.mark.skipif(
    torch.cuda.is_available() or not interpreter_active(),
    reason="runs Helion kernels on CPU tensors: needs TRITON_INTERPRET=1 and platform 'cpu'",
)

SMALL = {"block_sizes": [2], "num_warps": 2}
LARGE = {"block_sizes": [16], "num_warps": 8}




def _register(names: list[str], tmp_path: Path, entries: list[dict[str, Any]], **kwargs: Any) -> Any:
    op = unique("fastpath")
    names.append(op)
    path = tmp_path / op / f"{current_platform()}.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(entries), encoding="utf-8")
    return register_kernel(op, configs=tmp_path, keys={"rows": ("x", 0)}, reference=scale_rows_ref, **kwargs)(
        scale_rows
    )


def _device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def _args(rows: int, cols: int = 8, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(rows, cols, dtype=dtype, device=_device()), torch.randn(cols, dtype=dtype, device=_device())


def _refuse_bind(*_: object) -> None:
    raise AssertionError("the full path (Helion's bind) ran")


# ---------------------------------------------------------------- signatures


def test_signature_tells_scalar_types_apart() -> None:
    # 1, 1.0 and True are equal dictionary keys; a kernel may treat them differently.
    sigs = {call_signature((1,)), call_signature((1.0,)), call_signature((True,))}
    assert len(sigs) == 3


@pytest.mark.parametrize(
    "other",
    [
        lambda x: x.to(torch.float64),  # dtype
        lambda x: x.t().contiguous().t(),  # strides (column-major copy)
        lambda x: x.reshape(-1)[1:].reshape(-1)[: x.numel() - 8].reshape(x.shape[0] - 1, 8),  # sizes
        lambda x: torch.cat([x.reshape(-1), x.new_zeros(1)])[1:].reshape(x.shape),  # 4-byte misaligned pointer
        lambda x: x.to("meta"),  # device
    ],
    ids=["dtype", "strides", "sizes", "alignment", "device"],
)
def test_signature_changes_with_every_fact_the_code_depends_on(other: Any) -> None:
    x = torch.randn(6, 8)
    assert x.data_ptr() % 16 == 0
    assert call_signature((x, 2.0)) != call_signature((other(x), 2.0))
    # and is stable for another tensor of the same kind
    assert call_signature((x, 2.0)) == call_signature((torch.randn(6, 8), 2.0))


def test_signature_refuses_containers() -> None:
    assert call_signature(([torch.zeros(2)], 1)) is None


def test_plan_cache_starts_over_when_full() -> None:
    cache = PlanCache(max_plans=2)
    cache.add("a", int)
    cache.add("b", str)
    cache.add("c", float)
    assert len(cache) == 1 and cache.get("c") is float and cache.get("a") is None


# ---------------------------------------------------------------- plans


@interpreter_only
def test_repeat_call_runs_the_plan_without_binding(names: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wrapper = _register(names, tmp_path, [{"key": {"rows": 4}, "config": SMALL}])
    first = _args(4)
    torch.testing.assert_close(wrapper(*first), scale_rows_ref(*first))
    assert len(wrapper._plans) == 1

    monkeypatch.setattr(wrapper.kernel, "bind", _refuse_bind)
    again = _args(4)  # same signature, new values
    torch.testing.assert_close(wrapper(*again), scale_rows_ref(*again))
    # A new signature (3 rows) must take the full path.
    with pytest.raises(AssertionError, match="full path"):
        wrapper(*_args(3))


@interpreter_only
def test_each_key_gets_a_plan_running_its_own_config(names: list[str], tmp_path: Path) -> None:
    wrapper = _register(
        names, tmp_path, [{"key": {"rows": 4}, "config": SMALL}, {"key": {"rows": 32}, "config": LARGE}]
    )
    calls = {"rows=4": _args(4), "rows=32": _args(32)}
    for call_args in calls.values():
        for _ in range(2):  # the second call runs the plan
            torch.testing.assert_close(wrapper(*call_args), scale_rows_ref(*call_args))
    assert len(wrapper._plans) == 2
    for key, call_args in calls.items():
        bound = wrapper.kernel.bind(call_args)
        # Under the interpreter a plan is the bound kernel's compiled host
        # function (its code, with the bridge's plain Triton helpers).
        plan = wrapper._plans.get(call_signature(call_args))
        assert plan is not None and plan.__code__ is bound._run.__code__
        assert bound._config == helion.Config(**wrapper.configured.entries[key].config)
    assert wrapper.kernel.bind(calls["rows=4"])._config != wrapper.kernel.bind(calls["rows=32"])._config


@interpreter_only
@pytest.mark.parametrize(
    "variant",
    [
        lambda x, w: (x.to(torch.float64), w.to(torch.float64)),
        lambda x, w: (x.t().contiguous().t(), w),
        lambda x, w: (torch.cat([x.reshape(-1), x.new_zeros(1)])[1:].reshape(x.shape), w),
        lambda x, w: (x, torch.stack([w, w], dim=1)[:, 0]),  # strided weight
    ],
    ids=["dtype", "column-major", "misaligned", "strided-weight"],
)
def test_a_changed_dtype_or_layout_never_reuses_a_plan(names: list[str], tmp_path: Path, variant: Any) -> None:
    wrapper = _register(names, tmp_path, [{"key": {"rows": 4}, "config": SMALL}])
    base = _args(4)
    wrapper(*base)
    changed = variant(*_args(4))
    assert call_signature(changed) != call_signature(base)
    for _ in range(2):
        torch.testing.assert_close(wrapper(*changed), scale_rows_ref(*changed))
    assert len(wrapper._plans) == 2


@interpreter_only
def test_calls_without_a_stored_config_keep_the_full_path(names: list[str], tmp_path: Path) -> None:
    # Only a keyed entry for 4 rows... and nearest-bucket selection picks it for
    # any size; so test with a picker that returns the default (no entry).
    op = unique("fastpath_nokey")
    names.append(op)
    wrapper = register_kernel(op, configs=tmp_path, config_picker=lambda args, keys: None, reference=scale_rows_ref)(
        scale_rows
    )
    call_args = _args(4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the missing-config warning
        for _ in range(3):
            torch.testing.assert_close(wrapper(*call_args), scale_rows_ref(*call_args))
    assert len(wrapper._plans) == 0


@interpreter_only
def test_fast_path_can_be_turned_off(names: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(FAST_PATH_ENV_VAR, "0")
    wrapper = _register(names, tmp_path, [{"key": {"rows": 4}, "config": SMALL}])
    call_args = _args(4)
    for _ in range(2):
        torch.testing.assert_close(wrapper(*call_args), scale_rows_ref(*call_args))
    assert wrapper._plans is None


@interpreter_only
def test_invalid_inputs_are_checked_before_any_plan(names: list[str], tmp_path: Path) -> None:
    calls: list[int] = []

    def validate(x: torch.Tensor, w: torch.Tensor) -> None:
        calls.append(x.shape[0])
        if x.shape[1] != w.shape[0]:
            raise ValueError(f"width {x.shape[1]} != {w.shape[0]}")

    wrapper = _register(names, tmp_path, [{"key": {"rows": 4}, "config": SMALL}], validate=validate)
    good = _args(4)
    wrapper(*good)
    wrapper(*good)
    # Checked once per signature: the plan's signature fixes every size the check reads.
    assert calls == [4]
    with pytest.raises(ValueError, match="width 8 != 7"):
        wrapper(good[0], torch.randn(7))


# Triton's interpreter is not thread-safe (it patches triton.language while it
# runs a kernel: concurrent CPU calls fail with or without plans), so the
# threaded test runs on a GPU.
@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_threads_share_plans_and_get_right_results(names: list[str], tmp_path: Path) -> None:
    wrapper = _register(
        names, tmp_path, [{"key": {"rows": 4}, "config": SMALL}, {"key": {"rows": 32}, "config": LARGE}]
    )
    errors: list[BaseException] = []

    def work(seed: int) -> None:
        gen = torch.Generator(device=_device()).manual_seed(seed)
        try:
            for i in range(6):
                rows = (1, 4, 9, 32)[(seed + i) % 4]
                x = torch.randn(rows, 8, generator=gen, device=_device())
                w = torch.randn(8, generator=gen, device=_device())
                torch.testing.assert_close(wrapper(x, w), scale_rows_ref(x, w))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors[0]
    assert len(wrapper._plans) == 4


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_plans_launch_directly_also_under_cuda_graph_capture(
    names: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a GPU (direct launches are the default), a plan launches the compiled
    Triton kernel itself (not through Helion's and Triton's launchers), on the
    current stream, so a CUDA graph captures it; replays see new input values."""
    monkeypatch.setenv(DIRECT_LAUNCH_ENV_VAR, "1")
    wrapper = _register(
        names, tmp_path, [{"key": {"rows": 4}, "config": SMALL}, {"key": {"rows": 32}, "config": LARGE}]
    )
    for rows in (1, 4, 9, 32, 4, 1):  # interleaved keys and sizes, size 1 first
        for _ in range(3):
            x, w = _args(rows)
            torch.testing.assert_close(wrapper(x, w), scale_rows_ref(x, w))
    assert len(wrapper._plans) == 4
    x, w = _args(32)
    plan = wrapper._plans.get(call_signature((x, w)))
    assert plan is not None and plan is not wrapper.kernel.bind((x, w))._run
    # Repeat calls launched the compiled kernel directly (the first call of a
    # plan goes through Helion's launcher to find it).
    assert plan.launcher.direct_launches >= 1, (plan.launcher.direct_launches, plan.launcher.fallback_launches)
    # ... and learned, on its second launch, how to call Triton's launch again.
    assert len(plan.launcher._raw) == 1, plan.launcher._raw

    static_x, static_w = _args(32)
    wrapper(static_x, static_w)
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        static_out = wrapper(static_x, static_w)
    for _ in range(3):
        static_x.copy_(torch.randn_like(static_x))
        static_w.copy_(torch.randn_like(static_w))
        graph.replay()
        torch.testing.assert_close(static_out, scale_rows_ref(static_x, static_w))
