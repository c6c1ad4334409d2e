"""GPU-marked tests of the six ops on an H100/H200 (skipped without CUDA).

Written for the GPU image (torch 2.11.0+cu130, triton 3.6.0, helion 1.4.0 or
1.5.0) and newer; only torch APIs that 2.11 has. Run on the GPU machine from
the repository root:

    PYTHONPATH=packages/dynamo_bridge/src:packages/core/src:packages/kernels/src \\
        python -m pytest -q -m gpu -p no:cacheprovider packages/kernels/tests/test_gpu_ops.py

(``nox -s gpu`` runs these with every other GPU-marked test.)

Every case is checked against the op's pure-PyTorch reference, run eagerly
on a copy of the same inputs, outputs and in-place updates alike:

- eager: first call with 1 token, then 8, 256 and 4096 (hidden 4096; the
  gated ops' intermediate size 4096);
- Inductor: ``torch.compile(fullgraph=True, dynamic=True)`` of the op between
  ``x * 2`` and ``+ 1`` in the same order; no graph break and at most two
  finished compiles (one recompile) over the four sizes;
- CUDA graphs: ``mode="reduce-overhead"`` at several batch sizes, and a
  manual ``torch.cuda.CUDAGraph`` per batch size, replayed with the static
  inputs refilled (in-place inputs reset) before each replay;
- each op's own input generator at hidden 4096 and 1, 256, 4096 tokens;
- repeat eager calls: six per batch size, the last ones replaying the
  recorded host code (fresh inputs each call);
- config selection: the platform name, the key each op chose, and the
  missing-config policy 'default' warning once.

Tolerances (``_checks``): bf16 atol = rtol = 2e-2, fp16 2e-3, fp32 1e-5 (one
rounding to the output dtype, plus approximate rsqrt/exp and another
reduction order on the GPU); fp8 outputs as dequantised values within one
e4m3 step, scales within 1e-6 (per_token_group_fp8_quant) or one ulp of the
input dtype (silu_and_mul_fp8_quant, whose activation is rounded to it before
the amax). Kept small on purpose (< 2 min on an H100): few shapes, no timing.
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest
import torch
from _checks import (
    BFLOAT16,
    FLOAT16,
    FLOAT32,
    OP_NAMES,
    SPECS,
    OpSpec,
    Tolerance,
    as_tuple,
    assert_at_most_one_recompile,
    assert_mutations_close,
    assert_results_close,
    check_call,
    check_neighbours_call,
    clone_args,
    dispatch_mode,
    run_compiled,
    run_size_one_first,
    tolerance_params,
    with_neighbours,
)

pytestmark = pytest.mark.gpu

DEVICE = "cuda"
WIDTH = 4096
EAGER_TOKENS = (1, 8, 256, 4096)
CUDA_GRAPH_TOKENS = (1, 8, 256)
REALISTIC_TOKENS = (1, 256, 4096)
ALL_DTYPES = tolerance_params((BFLOAT16, FLOAT16, FLOAT32))
HALF_DTYPES = tolerance_params((BFLOAT16, FLOAT16))
OPS = pytest.mark.parametrize("name", OP_NAMES)


def _auto_path(name: str) -> str:
    """The path auto mode takes for CUDA tensors here (``hop`` or ``custom_op``)."""
    from helion_ops import dynamo_bridge

    return dynamo_bridge.resolve_mode("cuda", name).value


@OPS
@pytest.mark.parametrize("tol", ALL_DTYPES)
def test_eager_one_token_first_then_larger(name, tol):
    """Eager: 1 token first (a fresh kernel), then 8, 256, 4096, each against the reference."""
    run_size_one_first(SPECS[name], tol, tokens=EAGER_TOKENS, width=WIDTH, device=DEVICE)


@OPS
@pytest.mark.parametrize("tol", HALF_DTYPES)
def test_inductor_dynamic_one_token_first(name, tol):
    """Default backend (Inductor), fullgraph, dynamic=True, auto mode, the op
    between x * 2 and + 1; 1, 8, 256, 4096 tokens in that order; in-place
    updates visible; no graph break; at most one recompile."""
    spec = SPECS[name]
    counter = run_compiled(spec, tol, mode=None, backend="inductor", tokens=EAGER_TOKENS, width=WIDTH, device=DEVICE)
    assert_at_most_one_recompile(counter, _auto_path(name), EAGER_TOKENS)


@OPS
@pytest.mark.parametrize("tol", tolerance_params((BFLOAT16,)))
def test_reduce_overhead_cuda_graphs(name, tol):
    """torch.compile(mode="reduce-overhead", fullgraph=True): at each batch size
    three calls (warm-up, recording, replay), each checked right away (a
    replay overwrites the previous outputs). For ops without in-place inputs,
    Inductor must not have skipped CUDA graphs; for the in-place ones it
    skips them (mutated inputs) and only correctness is checked."""
    from torch._dynamo.utils import counters

    spec = SPECS[name]
    calls = {t: [spec.make_args(t, WIDTH, tol.dtype, DEVICE) for _ in range(3)] for t in CUDA_GRAPH_TOKENS}
    with dispatch_mode(None):
        counters.clear()
        compiled = torch.compile(
            with_neighbours(spec, spec.op, calls[CUDA_GRAPH_TOKENS[0]][0]), mode="reduce-overhead", fullgraph=True
        )
        for tokens, runs in calls.items():
            for run, args in enumerate(runs):
                check_neighbours_call(spec, tol, compiled, args, what=f"{name} reduce-overhead, {tokens} tokens, call {run}: ")
        skips = counters["inductor"]["cudagraph_skips"]
    if not spec.mutated:
        assert skips == 0, f"Inductor skipped CUDA graphs {skips} times for {name}"


def _refill(static: tuple[Any, ...], fresh: tuple[Any, ...]) -> None:
    for target, source in zip(static, fresh, strict=True):
        if isinstance(target, torch.Tensor):
            target.copy_(source)


def _run_manual_cuda_graph(spec: OpSpec, tol: Tolerance, tokens: int, replays: int = 2) -> None:
    static = spec.make_args(tokens, WIDTH, tol.dtype, DEVICE)
    op = spec.op
    # Warm-up on a side stream (compiles and binds the kernel outside capture).
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(2):
            op(*static)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        captured = as_tuple(op(*static))
    for replay in range(replays):
        # Fresh random data in every static input; for the in-place ops this
        # also resets the tensors the previous replay rotated or summed into.
        _refill(static, spec.make_args(tokens, WIDTH, tol.dtype, DEVICE))
        ref_args = clone_args(static)
        graph.replay()
        torch.cuda.synchronize()
        expected = as_tuple(spec.reference(*ref_args))
        what = f"{spec.name} CUDA graph, {tokens} tokens, replay {replay}: "
        assert_mutations_close(spec, tol, static, ref_args, what=what)
        assert_results_close(spec, tol, captured, expected, what=what)


@OPS
@pytest.mark.parametrize("tol", ALL_DTYPES)
def test_manual_cuda_graph_capture_and_replay(name, tol):
    """Eager op captured in a torch.cuda.CUDAGraph per batch size (1, 8, 256)
    and replayed twice with refilled static inputs, checked after each replay."""
    for tokens in CUDA_GRAPH_TOKENS:
        _run_manual_cuda_graph(SPECS[name], tol, tokens)


@OPS
@pytest.mark.parametrize("tol", tolerance_params((BFLOAT16,)))
def test_realistic_shapes_from_the_input_generator(name, tol):
    """The op's own input generator (hidden or intermediate 4096; 1, 256, 4096 tokens), eagerly."""
    spec = SPECS[name]
    generate = getattr(spec.module, f"{name}_inputs")
    inputs = generate(tokens=REALISTIC_TOKENS, hidden=(WIDTH,), dtype=tol.dtype, device=DEVICE)
    assert len(inputs) == len(REALISTIC_TOKENS)
    for key, args in inputs.items():
        check_call(spec, tol, spec.op, tuple(args), what=f"{name} {key}: ")


@OPS
@pytest.mark.parametrize("tol", tolerance_params((BFLOAT16, FLOAT32)))
def test_repeat_eager_calls_replay_the_host_code(name, tol):
    """Six eager calls per batch size (1, 8, 256), each with fresh inputs and
    checked against the reference: the first takes the full path, the next
    run the plan while it learns the direct launches, the last replay the
    recorded host code (allocations, views, C launch). Every shipped op's
    host code must be replayable, and its replays must launch directly."""
    from helion_ops.core._eager import call_signature

    spec = SPECS[name]
    for tokens in CUDA_GRAPH_TOKENS:
        for call in range(6):
            args = spec.make_args(tokens, WIDTH, tol.dtype, DEVICE)
            check_call(spec, tol, spec.op, args, what=f"{name} eager, {tokens} tokens, call {call}: ")
        plan = spec.op._plans.get(call_signature(args))
        assert plan is not None and getattr(plan, "replay", None) is not None, f"{name}: no replay at {tokens} tokens"
        assert plan.launcher.direct_launches >= 3


# ------------------------------------------------------------------ config selection


def test_platform_is_named_for_configs():
    """The GPU's canonical platform name, as config files are named, and every op registered for it."""
    from helion_ops.core import current_platform

    platform = current_platform()
    assert platform in ("nvidia_h100", "nvidia_h200"), f"{torch.cuda.get_device_name()} -> {platform!r}"
    assert {SPECS[name].op.platform for name in OP_NAMES} == {platform}


def test_importing_the_kernels_leaves_cuda_uninitialised():
    """Registering the ops reads the platform through NVML: a process that imports
    helion_ops.kernels can still fork workers that use CUDA, and the platform it
    read is the one CUDA names once initialised."""
    import subprocess
    import sys

    code = (
        "import torch, helion_ops.kernels as k\n"
        "print(torch.cuda.is_initialized(), k.rms_norm.platform)\n"
        "from helion_ops.core import canonical_platform\n"
        "print(canonical_platform(torch.cuda.get_device_name()))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    first, second = proc.stdout.split("\n")[:2]
    initialised, platform = first.split()
    assert initialised == "False", proc.stdout
    assert platform == second, proc.stdout


@OPS
def test_ops_report_the_config_key_they_chose(name, record_property):
    """With configs for this platform, each realistic shape selects a key that exists in them."""
    spec = SPECS[name]
    configured = spec.op.configured
    if not configured.has_configs:
        pytest.skip(f"no {configured.platform} configs for {name} yet")
    for tokens in REALISTIC_TOKENS:
        key = configured.selector.select(spec.make_args(tokens, WIDTH, torch.bfloat16, DEVICE))
        record_property(f"{name}[{tokens}]", key)
        assert key in configured.entries, f"{name} chose {key!r}, not one of {sorted(configured.entries)}"


def test_missing_config_policy_default_warns_once():
    """A kernel with no config for this platform, under the policy 'default':
    one RuntimeWarning naming the op and the platform over several calls and
    sizes, and results still right (Helion's default config)."""
    from helion_ops.core import ConfiguredHelionKernel, MissingConfigPolicy

    spec = SPECS["rms_norm"]
    wrapper = spec.op
    kernel = ConfiguredHelionKernel(
        wrapper.op_name,
        wrapper.raw_kernel_func,
        platform=wrapper.platform,
        entries={},
        helion_settings=wrapper.helion_settings,
        config_picker=wrapper.config_picker,
        keys=wrapper.keys,
        policy=lambda: MissingConfigPolicy.DEFAULT,
        platforms_with_configs=[],
    ).kernel
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for tokens in (8, 256, 8, 1):
            check_call(spec, BFLOAT16, kernel, spec.make_args(tokens, WIDTH, torch.bfloat16, DEVICE))
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning) and "no config" in str(w.message)]
    assert len(messages) == 1, messages
    assert "'rms_norm'" in messages[0] and wrapper.platform in messages[0], messages[0]
