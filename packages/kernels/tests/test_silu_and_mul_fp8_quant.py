"""silu_and_mul_fp8_quant on CPU through Triton's interpreter: eager and
compiled on both dispatch paths, odd shapes (including the intermediate=96
config, which loops over the row and reads it a second time after the amax),
all-zero rows, row-strided inputs and the size-1-first call order.

The interpreter's float32 -> bf16 and -> fp8 casts are replaced by correctly
rounded ones (conftest). Outputs are compared as dequantised values with one
e4m3 step of tolerance; scales within one ulp of the input dtype (bf16/fp16)
because the activation is rounded to that dtype before the row's amax
(``_checks.assert_fp8_close`` and ``fp8_scale_rtol`` say why).
"""

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
    run_size_one_first,
    selected_key,
    skip_if_interpreter_cannot_run_config,
    tolerance_params,
)

SPEC = SPECS["silu_and_mul_fp8_quant"]
MODULE = SPEC.module
# (tokens, N): N=64 has keys for 1 and 16 tokens, N=96 for 16 tokens (a
# reduction loop of 32 columns); 40 falls back to intermediate=64 and 160 to
# the largest key, intermediate=96 (five loop chunks, the last one masked).
SHAPES = [(1, 64), (3, 64), (17, 64), (1, 40), (3, 96), (17, 160)]
KEYS = {
    (1, 64): "intermediate=64,numtokens=1",
    (3, 40): "intermediate=64,numtokens=16",
    (3, 96): "intermediate=96,numtokens=16",
    (17, 160): "intermediate=96,numtokens=16",
}
COMPILED_TOKENS = (1, 8, 17)


@pytest.mark.parametrize("tol", tolerance_params())
@pytest.mark.parametrize("tokens,intermediate", SHAPES)
def test_eager_matches_reference(tokens, intermediate, tol):
    """Eager call (interpreter): dequantised values and scales against the reference."""
    check_call(SPEC, tol, SPEC.op, SPEC.make_args(tokens, intermediate, tol.dtype, "cpu"))


@pytest.mark.parametrize("tokens,intermediate", list(KEYS))
def test_shapes_select_the_intended_config(tokens, intermediate):
    assert selected_key(SPEC, tokens, intermediate) == KEYS[(tokens, intermediate)]


@pytest.mark.parametrize("quantize", [MODULE.silu_and_mul_fp8_quant, MODULE.silu_and_mul_fp8_quant_reference])
@pytest.mark.parametrize("intermediate", [64, 160])
def test_dequantised_values_round_to_nearest_fp8(quantize, intermediate):
    """Independent of the reference (so it checks the reference too): q * scale is
    y = silu(gate) * up (rounded to bf16) up to half an e4m3 step, and each
    row's largest magnitude lands on +-448."""
    (x,) = SPEC.make_args(4, intermediate, torch.bfloat16, "cpu")
    skip_if_interpreter_cannot_run_config(SPEC, (x,))
    gate, up = x.float().chunk(2, dim=-1)
    y = (gate * torch.sigmoid(gate) * up).to(torch.bfloat16).float()
    q, scales = quantize(x)
    ratio = y / scales
    half_step = ratio.abs() * 2.0**-4 + 2.0**-10
    assert torch.all((q.float() - ratio).abs() <= half_step * (1 + 1e-5)), (q.float() - ratio).abs().max()
    assert torch.all(q.float().abs().amax(dim=-1) == MODULE.FP8_MAX)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_clamp_the_kernel_leaves_out_changes_no_code(dtype):
    """As for per_token_group_fp8_quant: rows of magnitudes 1e-30 to 1e15 give the
    reference's codes without its clamp to +-448, by PyTorch's non-saturating cast."""
    magnitudes = 10.0 ** torch.linspace(-15, 7.5, 32, dtype=torch.float64)
    x = (torch.randn(32, 128, dtype=torch.float64) * magnitudes[:, None]).to(dtype)
    gate, up = x.float().chunk(2, dim=-1)
    y = (gate * torch.sigmoid(gate) * up).to(dtype).float()
    scales = torch.clamp(y.abs().amax(dim=-1, keepdim=True) / MODULE.FP8_MAX, min=MODULE.MIN_SCALE)
    assert (y / scales).abs().max().item() < 464
    q_ref, _ = MODULE.silu_and_mul_fp8_quant_reference(x)
    assert torch.equal((y / scales).to(MODULE.FP8_DTYPE).view(torch.uint8), q_ref.view(torch.uint8))
    check_call(SPEC, FLOAT32, SPEC.op, (x.float(),))


def test_all_zero_row_gets_min_scale_and_zeros():
    """A row whose activation is all zero (gate 0) divides nothing by zero: scale MIN_SCALE, codes 0."""
    (x,) = SPEC.make_args(3, 64, torch.float32, "cpu")
    x[1, :64] = 0
    q, scales = SPEC.op(x)
    assert scales[1, 0].item() == pytest.approx(MODULE.MIN_SCALE)
    assert torch.all(q[1].float() == 0)
    assert not torch.isnan(q.float()).any()
    check_call(SPEC, FLOAT32, SPEC.op, (x,))


def test_a_gate_far_below_zero_gives_zero_codes_not_nan():
    """The activation as in silu_and_mul (g / (1 + 2**(-g log2 e)) * u): a gate
    of -1e20 with |g * u| past float32's range still gives 0, not NaN, and
    leaves the row's scale to its other elements."""
    (x,) = SPEC.make_args(3, 64, torch.float32, "cpu")
    x[:, :8] = -1e20
    x[:, 64:72] = 1e20
    q, scales = SPEC.op(x)
    assert not q.float().isnan().any() and not scales.isnan().any()
    assert torch.all(q[:, :8].float() == 0)
    check_call(SPEC, FLOAT32, SPEC.op, (x,))


def test_row_strided_input_reads_only_its_columns():
    wide = torch.randn(5, 2 * 64 + 24) * 3
    x = wide[:, : 2 * 64]
    assert not x.is_contiguous()
    check_call(SPEC, FLOAT32, SPEC.op, (x,))


@pytest.mark.parametrize("tol", tolerance_params((FLOAT32, BFLOAT16)))
def test_size_one_first_then_larger_sizes_stay_correct(tol):
    """Eager, first call with one token, then 8 and 33 tokens."""
    run_size_one_first(SPEC, tol, tokens=(1, 8, 33), width=64, device="cpu")


@pytest.mark.parametrize("tol", tolerance_params((FLOAT32, BFLOAT16)))
@pytest.mark.parametrize("mode", dispatch_mode_params())
def test_compiled_matches_reference(mode, tol):
    """aot_eager, fullgraph, dynamic, HOP and custom op, x * 2 before and
    scales * 2 after; 1, 8, 17 tokens; no graph break, at most one recompile."""
    counter = run_compiled(
        SPEC, tol, mode=mode, backend="aot_eager", tokens=COMPILED_TOKENS, width=64, device="cpu"
    )
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
        SPEC, FLOAT32, mode=None, backend="inductor", tokens=COMPILED_TOKENS, width=96, device="cpu"
    )
    assert_at_most_one_recompile(counter, None, COMPILED_TOKENS)


def test_public_pieces_import_without_gpu(import_without_gpu_report):
    """Module, reference, input generator and input check work with no GPU and no interpreter."""
    check_imports_without_gpu(import_without_gpu_report, SPEC)
