"""per_token_group_fp8_quant on CPU through Triton's interpreter: eager and
compiled, odd shapes, input checks and zero tokens.

Triton 3.9's interpreter rounds float32 -> float8e4nv wrongly: a mantissa that
rounds up past 0b111 does not carry into the exponent (124.3 becomes 64, not
128). The autouse fixture below replaces that one conversion with PyTorch's
(round to nearest even, saturated at +-448 like the GPU's
``cvt.rn.satfinite``); everything else of the kernel (loads, amax, scale,
clamp, stores) runs in the interpreter as generated. So these tests check the
kernel's logic with a correct final cast; the GPU's own cast is left to the
GPU runs.

Tolerances: scales are computed by the same float32 formula in kernel and
reference (rtol 1e-6 leaves room for the GPU's division). FP8 codes may differ
by one e4m3 step where a value sits on a rounding midpoint (the GPU's float32
division need not be correctly rounded): e4m3 has 3 mantissa bits, so one step
is at most 2**-3 relative for normals and 2**-9 absolute for subnormals; at
least 99% of the codes must match exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch

from helion_ops import dynamo_bridge
from helion_ops.core import InputValidationError, interpreter_active
from helion_ops.kernels._per_token_group_fp8_quant import (
    FP8_MAX,
    MIN_SCALE,
    per_token_group_fp8_quant,
    per_token_group_fp8_quant_inputs,
    per_token_group_fp8_quant_reference,
)

DTYPES = [torch.float32, torch.bfloat16, torch.float16]
FP8_STEP_RTOL = 2.0**-3
FP8_SUBNORMAL_STEP = 2.0**-9
SCALE_RTOL = 1e-6
MIN_EXACT_CODE_FRACTION = 0.99


def _torch_fp8e4nv_conversion(original: Any) -> Any:
    """``_convert_float`` of Triton's interpreter, with float -> float8e4nv (round to nearest even) done by PyTorch."""
    import triton.language as tl
    from triton._C.libtriton import ir

    widths = {tl.float32: (np.int32, torch.float32), tl.float16: (np.int16, torch.float16)}
    widths[tl.bfloat16] = (np.int16, torch.bfloat16)

    def convert(input: Any, input_dtype: Any, output_dtype: Any, rounding_mode: Any) -> Any:
        if output_dtype != tl.float8e4nv or input_dtype not in widths or rounding_mode != ir.ROUNDING_MODE.RTNE:
            return original(input, input_dtype, output_dtype, rounding_mode)
        int_dtype, float_dtype = widths[input_dtype]
        bits = np.frombuffer(input.tobytes(), dtype=int_dtype).reshape(input.shape).copy()
        values = torch.from_numpy(bits).view(float_dtype).float().clamp(-FP8_MAX, FP8_MAX)
        return values.to(torch.float8_e4m3fn).view(torch.uint8).numpy()

    return convert


@pytest.fixture(autouse=True)
def _interpreter_fp8_rounding(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    if interpreter_active():
        import triton.runtime.interpreter as interpreter

        monkeypatch.setattr(interpreter, "_convert_float", _torch_fp8e4nv_conversion(interpreter._convert_float))
    yield


def assert_quantized_close(actual: tuple[torch.Tensor, torch.Tensor], expected: tuple[torch.Tensor, torch.Tensor]):
    (q, scales), (q_ref, scales_ref) = actual, expected
    assert q.dtype == torch.float8_e4m3fn and q.shape == q_ref.shape
    assert scales.dtype == torch.float32 and scales.shape == scales_ref.shape
    torch.testing.assert_close(scales, scales_ref, rtol=SCALE_RTOL, atol=0)
    torch.testing.assert_close(q.float(), q_ref.float(), rtol=FP8_STEP_RTOL, atol=FP8_SUBNORMAL_STEP)
    same_codes = (q.view(torch.uint8) == q_ref.view(torch.uint8)).float().mean().item()
    assert same_codes >= MIN_EXACT_CODE_FRACTION, f"only {same_codes:.1%} of the fp8 codes match the reference"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "tokens,hidden,group_size",
    [(1, 64, 64), (5, 64, 64), (3, 192, 64), (2, 144, 48), (4, 96, 32), (16, 64, 16)],
)
def test_eager_matches_reference(tokens, hidden, group_size, dtype):
    x = torch.randn(tokens, hidden, dtype=dtype) * 3
    result = per_token_group_fp8_quant(x, group_size)
    assert_quantized_close(result, per_token_group_fp8_quant_reference(x, group_size))


@pytest.mark.parametrize("quantize", [per_token_group_fp8_quant, per_token_group_fp8_quant_reference])
def test_dequantised_values_round_to_nearest_fp8(quantize):
    # Independent of the reference: q * scale is x up to half an e4m3 step, and
    # each group's largest magnitude lands on +-448.
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
    assert torch.all(group_max == FP8_MAX), group_max


def test_all_zero_group_gets_min_scale_and_zeros():
    x = torch.randn(2, 96)
    x[1, 32:64] = 0
    q, scales = per_token_group_fp8_quant(x, 32)
    assert scales[1, 1].item() == pytest.approx(MIN_SCALE)
    assert torch.all(q[1, 32:64].float() == 0)
    assert not torch.isnan(q.float()).any()
    assert_quantized_close((q, scales), per_token_group_fp8_quant_reference(x, 32))


def test_row_strided_input_reads_only_its_columns():
    # Rows need not be contiguous, only the last dimension.
    wide = torch.randn(5, 160)
    x = wide[:, :128]
    assert not x.is_contiguous()
    assert_quantized_close(per_token_group_fp8_quant(x, 64), per_token_group_fp8_quant_reference(x, 64))


def test_size_one_first_then_larger_sizes_stay_correct():
    for tokens in (1, 8, 33):
        x = torch.randn(tokens, 64)
        assert_quantized_close(per_token_group_fp8_quant(x, 32), per_token_group_fp8_quant_reference(x, 32))


@pytest.mark.parametrize("backend", ["aot_eager", "inductor"])
def test_compiled_fullgraph_dynamic_matches_reference(backend):
    torch._dynamo.reset()
    compiles = []
    inner = torch._dynamo.lookup_backend(backend)

    def counting_backend(gm, example_inputs):
        compiles.append(gm)
        return inner(gm, example_inputs)

    def quantize_then_double_scales(x):
        q, scales = per_token_group_fp8_quant(x, 32)
        return q, scales * 2

    compiled = torch.compile(quantize_then_double_scales, backend=counting_backend, fullgraph=True, dynamic=True)
    for tokens in (2, 7, 16):
        x = torch.randn(tokens, 64, dtype=torch.bfloat16)
        q, doubled = compiled(x)
        q_ref, scales_ref = per_token_group_fp8_quant_reference(x, 32)
        assert_quantized_close((q, doubled / 2), (q_ref, scales_ref))
    assert len(compiles) <= 2  # compiled once, at most one recompile


def test_captured_graph_holds_the_dispatch_node():
    torch._dynamo.reset()
    graphs = []

    def capture(gm, example_inputs):
        graphs.append(gm)
        return gm.forward

    x = torch.randn(4, 64)
    torch.compile(lambda x: per_token_group_fp8_quant(x, 32), backend=capture, fullgraph=True)(x)
    targets = [str(n.target) for n in graphs[0].graph.nodes if n.op == "call_function"]
    mode = dynamo_bridge.resolve_mode("cpu", "per_token_group_fp8_quant")
    if mode is dynamo_bridge.DynamoMode.HOP:
        assert any("helion_kernel_wrapper_mutation" in t for t in targets), targets
    else:
        assert "helion_ops.per_token_group_fp8_quant.default" in targets, targets


@pytest.mark.parametrize("dtype", DTYPES)
def test_zero_tokens_give_empty_outputs(dtype):
    q, scales = per_token_group_fp8_quant(torch.empty(0, 96, dtype=dtype), 32)
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
        per_token_group_fp8_quant(x, group_size)


def test_invalid_input_raises_at_trace_time():
    torch._dynamo.reset()
    compiled = torch.compile(lambda x: per_token_group_fp8_quant(x, 32), backend="aot_eager", fullgraph=True)
    with pytest.raises(InputValidationError, match="must have a size divisible by 32 in dimension 1, found 48"):
        compiled(torch.zeros(2, 48))


def test_cpu_demo_inputs_run():
    # The CLI demo's call: tiny float32 CPU inputs, one group of 64 per token.
    inputs = per_token_group_fp8_quant_inputs(tokens=(1, 5), hidden=(64,), dtype=torch.float32, device="cpu")
    assert list(inputs) == ["hidden=64,numtokens=1", "hidden=64,numtokens=5"]
    for x, group_size in inputs.values():
        assert group_size == 64
        assert_quantized_close(per_token_group_fp8_quant(x, group_size), per_token_group_fp8_quant_reference(x, group_size))


def test_different_keys_pick_different_configs():
    configured = per_token_group_fp8_quant.configured
    one = configured.selector.select((torch.empty(1, 64), 32))
    many = configured.selector.select((torch.empty(9, 64), 32))
    assert (one, many) == ("hidden=64,numtokens=1", "hidden=64,numtokens=16")
    assert configured.entries[one].config != configured.entries[many].config
