"""per_token_group_fp8_quant on CPU through Triton's interpreter: eager and
compiled on both dispatch paths, odd shapes and group sizes (not powers of
two: Helion pads the group axis and masks), all-zero groups, row-strided
inputs, zero tokens, input checks and the size-1-first call order.

The interpreter's float -> fp8 cast is replaced by a correctly rounded one
(conftest). Outputs are compared as dequantised values with one e4m3 step of
tolerance and scales to 1e-6 (``_checks.assert_fp8_close`` says why).
"""

from __future__ import annotations

import math

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
from helion_ops.core import InputValidationError

SPEC = SPECS["per_token_group_fp8_quant"]
MODULE = SPEC.module
# (tokens, hidden), groups of min(128, hidden // 2) columns: 64 is a key of
# cpu.json; 96, 160 and 256 fall back to the nearest key (hidden=64), with
# groups of 48, 80 and 128.
SHAPES = [(1, 64), (3, 64), (17, 64), (1, 96), (3, 160), (17, 256)]
KEYS = {(1, 64): "hidden=64,numtokens=1", (3, 64): "hidden=64,numtokens=16", (17, 256): "hidden=64,numtokens=16"}
COMPILED_TOKENS = (1, 8, 17)


@pytest.mark.parametrize("tol", tolerance_params())
@pytest.mark.parametrize("tokens,hidden", SHAPES)
def test_eager_matches_reference(tokens, hidden, tol):
    """Eager call (interpreter): dequantised values and scales against the reference."""
    check_call(SPEC, tol, SPEC.op, SPEC.make_args(tokens, hidden, tol.dtype, "cpu"))


@pytest.mark.parametrize("tokens,hidden,group_size", [(5, 64, 64), (2, 144, 48), (4, 96, 32), (16, 64, 16)])
def test_eager_matches_reference_for_other_group_sizes(tokens, hidden, group_size):
    """One group per row, and more, smaller groups than the default shapes use."""
    x = torch.randn(tokens, hidden, dtype=torch.bfloat16) * 3
    check_call(SPEC, BFLOAT16, SPEC.op, (x, group_size))


@pytest.mark.parametrize("tokens,hidden", list(KEYS))
def test_shapes_select_the_intended_config(tokens, hidden):
    assert selected_key(SPEC, tokens, hidden) == KEYS[(tokens, hidden)]


def test_one_token_and_many_tokens_get_different_configs():
    configs = SPEC.op.configured.entries
    assert configs["hidden=64,numtokens=1"].config != configs["hidden=64,numtokens=16"].config


@pytest.mark.parametrize("quantize", [MODULE.per_token_group_fp8_quant, MODULE.per_token_group_fp8_quant_reference])
def test_dequantised_values_round_to_nearest_fp8(quantize):
    """Independent of the reference (so it checks the reference too): q * scale
    is x up to half an e4m3 step, and each group's largest magnitude lands on +-448."""
    group_size = 32
    x = torch.randn(3, 3 * group_size, dtype=torch.bfloat16) * torch.tensor([1e-3, 1.0, 50.0]).repeat_interleave(
        group_size
    )
    q, scales = quantize(x, group_size)
    per_column_scale = scales.repeat_interleave(group_size, dim=1)
    ratio = x.float() / per_column_scale
    half_step = ratio.abs() * 2.0**-4 + 2.0**-10
    assert torch.all((q.float() - ratio).abs() <= half_step * (1 + 1e-6)), (q.float() - ratio).abs().max()
    group_max = q.float().abs().reshape(3, 3, group_size).amax(dim=-1)
    assert torch.all(group_max == MODULE.FP8_MAX), group_max


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_the_clamp_the_kernel_leaves_out_changes_no_code(dtype):
    """The kernel quantises ``x / scale`` without the reference's clamp to +-448.
    Over magnitudes from the smallest normals to the largest finite values of
    the dtype, the quotient rounds to the clamped code with PyTorch's
    non-saturating cast too (values from 464 up would become NaN): the clamp is
    a no-op in float32, not only on the GPU's saturating cast."""
    info = torch.finfo(dtype)
    exponents = torch.linspace(math.log10(info.tiny), math.log10(info.max / 4), 64, dtype=torch.float64)
    # Per row one magnitude, each element 0.5 to 2 times it, either sign.
    x = (torch.randn(64, 128, dtype=torch.float64).abs() + 0.5).clamp(max=2) * 10.0 ** exponents[:, None]
    x = (x * torch.where(torch.rand(64, 128) < 0.5, -1.0, 1.0)).to(dtype)
    groups = x.float().reshape(64, 4, 32)
    scales = torch.clamp(groups.abs().amax(dim=-1) / MODULE.FP8_MAX, min=MODULE.MIN_SCALE)
    unclamped = (groups / scales[:, :, None]).reshape(64, 128)
    assert unclamped.abs().max().item() < 464
    q_ref, _ = MODULE.per_token_group_fp8_quant_reference(x, 32)
    assert torch.equal(unclamped.to(MODULE.FP8_DTYPE).view(torch.uint8), q_ref.view(torch.uint8))
    check_call(SPEC, FLOAT32, SPEC.op, (x.float(), 32))


def test_all_zero_group_gets_min_scale_and_zeros():
    x = torch.randn(2, 96)
    x[1, 32:64] = 0
    q, scales = SPEC.op(x, 32)
    assert scales[1, 1].item() == pytest.approx(MODULE.MIN_SCALE)
    assert torch.all(q[1, 32:64].float() == 0)
    assert not torch.isnan(q.float()).any()
    check_call(SPEC, FLOAT32, SPEC.op, (x, 32))


def test_row_strided_input_reads_only_its_columns():
    """Rows need not be contiguous, only the last dimension."""
    wide = torch.randn(5, 160)
    x = wide[:, :128]
    assert not x.is_contiguous()
    check_call(SPEC, FLOAT32, SPEC.op, (x, 64))


@pytest.mark.parametrize("tol", tolerance_params((FLOAT32, BFLOAT16)))
def test_size_one_first_then_larger_sizes_stay_correct(tol):
    """Eager, first call with one token, then 8 and 33 tokens."""
    run_size_one_first(SPEC, tol, tokens=(1, 8, 33), width=64, device="cpu")


@pytest.mark.parametrize("tol", tolerance_params((FLOAT32, BFLOAT16)))
@pytest.mark.parametrize("mode", dispatch_mode_params())
def test_compiled_matches_reference(mode, tol):
    """aot_eager, fullgraph, dynamic, HOP and custom op, x * 2 before and
    scales * 2 after, group size a constant; 1, 8, 17 tokens; no graph break,
    at most one recompile."""
    counter = run_compiled(
        SPEC, tol, mode=mode, backend="aot_eager", tokens=COMPILED_TOKENS, width=64, device="cpu"
    )
    assert_at_most_one_recompile(counter, mode, COMPILED_TOKENS)


@pytest.mark.parametrize("mode", dispatch_mode_params())
def test_compiled_with_scalar_arguments(mode):
    """aot_eager, group size passed into the compiled function (a SymInt under dynamic=True)."""
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
    """The default mode (custom op on CPU) under Inductor's CPU backend."""
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
    torch.compile(lambda x: op(x, 32), backend=capture, fullgraph=True)(torch.randn(4, 64))
    targets = [str(n.target) for n in graphs[0].graph.nodes if n.op == "call_function"]
    mode = dynamo_bridge.resolve_mode("cpu", "per_token_group_fp8_quant")
    if mode is dynamo_bridge.DynamoMode.HOP:
        assert any("helion_kernel_wrapper_mutation" in t for t in targets), targets
    else:
        assert "helion_ops.per_token_group_fp8_quant.default" in targets, targets


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_zero_tokens_give_empty_outputs(dtype):
    q, scales = SPEC.op(torch.empty(0, 96, dtype=dtype), 32)
    assert (q.shape, q.dtype) == ((0, 96), torch.float8_e4m3fn)
    assert (scales.shape, scales.dtype) == ((0, 3), torch.float32)


@pytest.mark.parametrize(
    "x,group_size,match",
    [
        (torch.zeros(2, 64, dtype=torch.int32), 32, r"'x' must have dtype in \(bfloat16, float16, float32\), found int32"),
        (torch.zeros(2, 64, dtype=torch.float64), 32, r"'x' must have dtype in .*found float64"),
        (torch.zeros(2, 2, 64), 32, r"'x' must have 2 dimensions, found 3"),
        (torch.zeros(64), 32, r"'x' must have 2 dimensions, found 1"),
        (torch.zeros(2, 100), 32, r"'x' must have a size divisible by 32 in dimension 1, found 100"),
        (torch.zeros(2, 64), 0, r"'group_size' must be a positive number of columns, found 0"),
        (torch.zeros(64, 2).t(), 32, r"'x' must have stride 1 in its last dimension"),
    ],
    ids=["int32", "float64", "rank3", "rank1", "not-divisible", "zero-group", "transposed"],
)
def test_invalid_inputs_raise(x, group_size, match):
    with pytest.raises(InputValidationError, match=r"op 'per_token_group_fp8_quant': argument " + match):
        SPEC.op(x, group_size)


def test_invalid_input_raises_at_trace_time():
    torch._dynamo.reset()
    op = SPEC.op
    compiled = torch.compile(lambda x: op(x, 32), backend="aot_eager", fullgraph=True)
    with pytest.raises(InputValidationError, match="must have a size divisible by 32 in dimension 1, found 48"):
        compiled(torch.zeros(2, 48))


def test_cpu_demo_inputs_run():
    """The CLI demo's call: tiny float32 CPU inputs, one group of 64 per token."""
    inputs = MODULE.per_token_group_fp8_quant_inputs(tokens=(1, 5), hidden=(64,), dtype=torch.float32, device="cpu")
    assert list(inputs) == ["hidden=64,numtokens=1", "hidden=64,numtokens=5"]
    for x, group_size in inputs.values():
        assert group_size == 64
        check_call(SPEC, FLOAT32, SPEC.op, (x, group_size))


def test_public_pieces_import_without_gpu(import_without_gpu_report):
    """Module, reference, input generator and input check work with no GPU and no interpreter."""
    check_imports_without_gpu(import_without_gpu_report, SPEC)
