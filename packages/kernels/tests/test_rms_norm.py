"""rms_norm on CPU through Triton's interpreter (with the libdevice shim of
helion_ops.core for ``torch.rsqrt``): eager and compiled, odd shapes, and the
size-1-first call order that helion 1.1-1.4 get wrong without the bridge's guard."""

from __future__ import annotations

import pytest
import torch

from helion_ops import dynamo_bridge
from helion_ops.kernels import rms_norm, rms_norm_reference

CASES = [(torch.float32, 1e-5, 1e-5), (torch.bfloat16, 2e-2, 2e-2), (torch.float16, 2e-3, 2e-3)]


@pytest.mark.parametrize("dtype,atol,rtol", CASES)
@pytest.mark.parametrize("shape", [(1, 64), (5, 64), (16, 64), (3, 48)])
def test_eager_matches_reference(shape, dtype, atol, rtol):
    x = torch.randn(shape, dtype=dtype)
    w = torch.randn(shape[-1], dtype=dtype)
    torch.testing.assert_close(rms_norm(x, w, 1e-6), rms_norm_reference(x, w, 1e-6), atol=atol, rtol=rtol)


def test_size_one_first_then_larger_sizes_stay_correct():
    # The first call with one row must not leave a specialisation that later,
    # larger calls reuse (helion 1.1-1.4 bug; the bridge's size bucket fixes it).
    w = torch.randn(40)
    for rows in (1, 8, 33):
        x = torch.randn(rows, 40)
        torch.testing.assert_close(rms_norm(x, w), rms_norm_reference(x, w), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("backend", ["aot_eager", "inductor"])
def test_compiled_fullgraph_dynamic_matches_reference(backend):
    torch._dynamo.reset()
    compiles = []
    inner = torch._dynamo.lookup_backend(backend)

    def counting_backend(gm, example_inputs):
        compiles.append(gm)
        return inner(gm, example_inputs)

    compiled = torch.compile(lambda x, w: rms_norm(x, w) * 2, backend=counting_backend, fullgraph=True, dynamic=True)
    w = torch.randn(64)
    for rows in (2, 7, 16):
        x = torch.randn(rows, 64)
        torch.testing.assert_close(compiled(x, w), rms_norm_reference(x, w) * 2, atol=1e-5, rtol=1e-5)
    assert len(compiles) <= 2  # compiled once, at most one recompile


def test_captured_graph_holds_the_dispatch_node():
    torch._dynamo.reset()
    graphs = []

    def capture(gm, example_inputs):
        graphs.append(gm)
        return gm.forward

    x, w = torch.randn(4, 64), torch.randn(64)
    torch.compile(lambda x, w: rms_norm(x, w), backend=capture, fullgraph=True)(x, w)
    targets = [str(n.target) for n in graphs[0].graph.nodes if n.op == "call_function"]
    mode = dynamo_bridge.resolve_mode("cpu", "rms_norm")
    if mode is dynamo_bridge.DynamoMode.HOP:
        assert any("helion_kernel_wrapper_mutation" in t for t in targets), targets
    else:
        assert "helion_ops.rms_norm.default" in targets, targets


def test_different_keys_pick_different_configs():
    configured = rms_norm.configured
    one = configured.selector.select((torch.empty(1, 64), torch.empty(64)))
    many = configured.selector.select((torch.empty(9, 64), torch.empty(64)))
    assert (one, many) == ("hidden=64,numtokens=1", "hidden=64,numtokens=16")
    assert configured.entries[one].config != configured.entries[many].config
