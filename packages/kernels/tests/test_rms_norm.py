"""rms_norm on CPU through Triton's interpreter (with the libdevice shim of
helion_ops.core for ``torch.rsqrt``): eager and compiled on both dispatch
paths, odd shapes, and the size-1-first call order that helion 1.1-1.4 get
wrong without the bridge's guard. Tolerances: ``_checks.TOLERANCES``."""

from __future__ import annotations

import pytest
import torch
from _checks import (
    BFLOAT16,
    FLOAT32,
    SPECS,
    assert_at_most_one_recompile,
    check_call,
    check_imports_without_gpu,
    dispatch_mode_params,
    run_compiled,
    run_compiled_scalar_arguments,
    run_size_one_first,
    selected_key,
    tolerance_params,
)

from helion_ops import dynamo_bridge

SPEC = SPECS["rms_norm"]
# (tokens, hidden): 64 is a key of cpu.json; 96 and 160 fall back to the
# nearest key (hidden=64); 1 token has its own key, 3 and 17 take numtokens=16.
SHAPES = [(1, 64), (3, 64), (17, 64), (1, 160), (3, 96), (17, 160)]
KEYS = {(1, 64): "hidden=64,numtokens=1", (3, 64): "hidden=64,numtokens=16", (17, 160): "hidden=64,numtokens=16"}
COMPILED_TOKENS = (1, 8, 17)


@pytest.mark.parametrize("tol", tolerance_params())
@pytest.mark.parametrize("tokens,hidden", SHAPES)
def test_eager_matches_reference(tokens, hidden, tol):
    """Eager call (interpreter) against the reference."""
    check_call(SPEC, tol, SPEC.op, SPEC.make_args(tokens, hidden, tol.dtype, "cpu"))


@pytest.mark.parametrize("tokens,hidden", list(KEYS))
def test_shapes_select_the_intended_config(tokens, hidden):
    """The shapes above do hit an exact cpu.json key and the nearest-key fallback."""
    assert selected_key(SPEC, tokens, hidden) == KEYS[(tokens, hidden)]


def test_one_token_and_many_tokens_get_different_configs():
    configs = SPEC.op.configured.entries
    assert configs["hidden=64,numtokens=1"].config != configs["hidden=64,numtokens=16"].config


@pytest.mark.parametrize("tol", tolerance_params((FLOAT32, BFLOAT16)))
def test_size_one_first_then_larger_sizes_stay_correct(tol):
    """Eager, first call with one token, then 8 and 33 (helion 1.1-1.4 reused
    the size-1 specialisation; the bridge's size bucket keeps them apart)."""
    run_size_one_first(SPEC, tol, tokens=(1, 8, 33), width=96, device="cpu")


@pytest.mark.parametrize("tol", tolerance_params((FLOAT32, BFLOAT16)))
@pytest.mark.parametrize("mode", dispatch_mode_params())
def test_compiled_matches_reference(mode, tol):
    """torch.compile(fullgraph=True, dynamic=True, backend="aot_eager") on the
    HOP path and on the custom op, between two pointwise ops; 1, 8, 17 tokens
    in that order; no graph break, at most one recompile."""
    counter = run_compiled(
        SPEC, tol, mode=mode, backend="aot_eager", tokens=COMPILED_TOKENS, width=64, device="cpu"
    )
    assert_at_most_one_recompile(counter, mode, COMPILED_TOKENS)


@pytest.mark.parametrize("mode", dispatch_mode_params())
def test_compiled_with_scalar_arguments(mode):
    """aot_eager, eps passed into the compiled function (traced as a SymFloat
    under dynamic=True, then specialised by torch's restart)."""
    counter = run_compiled_scalar_arguments(SPEC, FLOAT32, mode=mode, tokens=COMPILED_TOKENS, width=64, device="cpu")
    assert_at_most_one_recompile(counter, mode, COMPILED_TOKENS)


@pytest.mark.parametrize("mode", dispatch_mode_params())
def test_compiled_static_shapes_each_size_correct(mode):
    """aot_eager with dynamic=False: one graph per token count, 8 then 17 (one
    config key for both); every row of the second call must be computed
    (helion 1.4's HOP path reused the 8-row kernel and left rows 8-16 unwritten)."""
    run_compiled(
        SPEC, FLOAT32, mode=mode, backend="aot_eager", tokens=(8, 17), width=64, device="cpu",
        compile_options={"dynamic": False},
    )


def test_compiled_with_inductor_matches_reference():
    """The default mode (custom op on CPU) lowered by Inductor's CPU backend."""
    counter = run_compiled(
        SPEC, FLOAT32, mode=None, backend="inductor", tokens=COMPILED_TOKENS, width=64, device="cpu"
    )
    assert_at_most_one_recompile(counter, None, COMPILED_TOKENS)


def test_captured_graph_holds_the_dispatch_node():
    """auto mode: the graph Dynamo captures holds the path resolve_mode picks."""
    torch._dynamo.reset()
    graphs = []

    def capture(gm, example_inputs):
        graphs.append(gm)
        return gm.forward

    op = SPEC.op
    x, w = torch.randn(4, 64), torch.randn(64)
    torch.compile(lambda x, w: op(x, w), backend=capture, fullgraph=True)(x, w)
    targets = [str(n.target) for n in graphs[0].graph.nodes if n.op == "call_function"]
    mode = dynamo_bridge.resolve_mode("cpu", "rms_norm")
    if mode is dynamo_bridge.DynamoMode.HOP:
        assert any("helion_kernel_wrapper_mutation" in t for t in targets), targets
    else:
        assert "helion_ops.rms_norm.default" in targets, targets


def test_public_pieces_import_without_gpu(import_without_gpu_report):
    """Module, reference and input generator work with no GPU and no interpreter."""
    check_imports_without_gpu(import_without_gpu_report, SPEC)
