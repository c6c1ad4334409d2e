"""A transformer MLP block, compiled by Inductor and replayed in a CUDA graph:
``fused_add_rms_norm -> matmul -> silu_and_mul -> matmul`` at Llama-3-8B's
sizes (hidden 4096, intermediate 14336), bf16, decode batches 1, 8, 64, 256.

    python -m pytest benchmarks/test_block.py --benchmark-json block.json
    python benchmarks/summarize.py block.json

Compared in one run: our ops in the bridge's ``auto`` mode; our ops forced to
the custom op; the same block written with the ops' pure-PyTorch references,
compiled by Inductor. Each case is checked against the reference block
before it is timed. A round replays the graph ``REPLAYS`` times and then
synchronises, so time per replay is GPU time per step.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from conftest import needs_cuda, op_module

from helion_ops import dynamo_bridge

HIDDEN, INTERMEDIATE = 4096, 14336
# Resolved here: Dynamo traces the block functions and cannot trace an import.
_NORM = op_module("fused_add_rms_norm")
_ACT = op_module("silu_and_mul")
REPLAYS = 50

pytestmark = [needs_cuda, pytest.mark.gpu]


def _ops_block(x: torch.Tensor, residual: torch.Tensor, norm_w: torch.Tensor, up_w: torch.Tensor, down_w: torch.Tensor) -> torch.Tensor:
    h = _NORM.fused_add_rms_norm(x, residual, norm_w)
    return _ACT.silu_and_mul(h @ up_w.t()) @ down_w.t()


def _reference_block(
    x: torch.Tensor, residual: torch.Tensor, norm_w: torch.Tensor, up_w: torch.Tensor, down_w: torch.Tensor
) -> torch.Tensor:
    h = _NORM.fused_add_rms_norm_reference(x, residual, norm_w)
    return _ACT.silu_and_mul_reference(h @ up_w.t()) @ down_w.t()


def _weights() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator(device="cuda").manual_seed(0)
    kw = {"device": "cuda", "dtype": torch.bfloat16, "generator": gen}
    return (
        torch.randn(HIDDEN, **kw),
        torch.randn(2 * INTERMEDIATE, HIDDEN, **kw) / HIDDEN**0.5,
        torch.randn(HIDDEN, INTERMEDIATE, **kw) / INTERMEDIATE**0.5,
    )


def _graph(fn: Callable[..., torch.Tensor], args: tuple[torch.Tensor, ...]) -> tuple[torch.cuda.CUDAGraph, torch.Tensor]:
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(3):
            fn(*args)
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = fn(*args)
    return graph, out


@pytest.mark.parametrize("batch", [1, 8, 64, 256])
@pytest.mark.parametrize("variant", ["ops_auto", "ops_custom_op", "reference_inductor"])
def test_block_step(benchmark: object, batch: int, variant: str) -> None:
    benchmark.group = f"mlp block step, batch {batch} (us per CUDA-graph replay)"  # type: ignore[attr-defined]
    torch._dynamo.reset()
    dynamo_bridge.set_mode("custom_op" if variant == "ops_custom_op" else None)
    try:
        block = _reference_block if variant == "reference_inductor" else _ops_block
        compiled = torch.compile(block, fullgraph=True, dynamic=False)
        weights = _weights()
        x = torch.randn(batch, HIDDEN, device="cuda", dtype=torch.bfloat16)
        residual = torch.randn_like(x)

        # Correct first: one compiled step against the reference block.
        res_a, res_b = residual.clone(), residual.clone()
        out = compiled(x, res_a, *weights)
        expected = _reference_block(x, res_b, *weights)
        torch.testing.assert_close(res_a, res_b)
        torch.testing.assert_close(out, expected, atol=0.1, rtol=0.05)

        graph, _ = _graph(compiled, (x, residual, *weights))
        benchmark.extra_info["calls_per_round"] = REPLAYS  # type: ignore[attr-defined]
        benchmark.extra_info["dynamo_mode"] = str(dynamo_bridge.get_mode().value)  # type: ignore[attr-defined]

        def replays() -> None:
            for _ in range(REPLAYS):
                graph.replay()
            torch.cuda.synchronize()

        benchmark.pedantic(replays, rounds=20, warmup_rounds=2)  # type: ignore[attr-defined]
    finally:
        dynamo_bridge.set_mode(None)
