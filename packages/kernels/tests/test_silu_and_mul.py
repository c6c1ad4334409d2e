"""silu_and_mul on CPU through Triton's interpreter: eager and compiled on both
dispatch paths, odd shapes (intermediate sizes N that are keys of cpu.json
and ones that fall back to the nearest key, including N not a multiple of
the column tile), row-strided inputs and the size-1-first call order.
Tolerances: ``_checks.TOLERANCES``."""

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
    tolerance_params,
)

SPEC = SPECS["silu_and_mul"]
# (tokens, N) with x of shape [tokens, 2N]: N=64 is a key; 40 and 96 fall back
# to the nearest (intermediate=64), whose column tiles (32 or 64) then end
# in a masked partial tile.
SHAPES = [(1, 64), (3, 64), (17, 64), (1, 40), (3, 96), (17, 96)]
KEYS = {(1, 64): "intermediate=64,numtokens=1", (3, 40): "intermediate=64,numtokens=16", (17, 96): "intermediate=64,numtokens=16"}
COMPILED_TOKENS = (1, 8, 17)


@pytest.mark.parametrize("tol", tolerance_params())
@pytest.mark.parametrize("tokens,intermediate", SHAPES)
def test_eager_matches_reference(tokens, intermediate, tol):
    """Eager call (interpreter) against the reference."""
    check_call(SPEC, tol, SPEC.op, SPEC.make_args(tokens, intermediate, tol.dtype, "cpu"))


@pytest.mark.parametrize("tokens,intermediate", list(KEYS))
def test_shapes_select_the_intended_config(tokens, intermediate):
    assert selected_key(SPEC, tokens, intermediate) == KEYS[(tokens, intermediate)]


@pytest.mark.parametrize("tol", tolerance_params((FLOAT32, BFLOAT16)))
def test_row_strided_input_reads_only_its_columns(tol):
    """Rows need not be contiguous, only the last dimension: a slice of a wider buffer."""
    wide = torch.randn(5, 2 * 64 + 24, dtype=tol.dtype) * 3
    x = wide[:, : 2 * 64]
    assert not x.is_contiguous()
    check_call(SPEC, tol, SPEC.op, (x,))


@pytest.mark.parametrize("tol", tolerance_params((FLOAT32, BFLOAT16)))
def test_a_gate_far_below_zero_gives_zero_even_where_gate_times_up_overflows(tol):
    """The kernel computes silu(g) * u as g / (1 + 2**(-g log2 e)) * u: for
    g = -1e20 the denominator is inf and the quotient -0, as the reference's
    g * sigmoid(g) * u; dividing g * u instead would give inf / inf = NaN
    wherever |g * u| overflows float32."""
    x = torch.randn(3, 2 * 64, dtype=tol.dtype)
    x[:, :8] = -1e20  # gate
    x[:, 64:72] = torch.tensor([1e20, -1e20]).repeat(4)  # its up, so that g * u overflows
    check_call(SPEC, tol, SPEC.op, (x,))
    assert not SPEC.op(x).isnan().any()


@pytest.mark.parametrize("tol", tolerance_params((FLOAT32, BFLOAT16)))
def test_size_one_first_then_larger_sizes_stay_correct(tol):
    """Eager, first call with one token, then 8 and 33 tokens."""
    run_size_one_first(SPEC, tol, tokens=(1, 8, 33), width=64, device="cpu")


@pytest.mark.parametrize("tol", tolerance_params((FLOAT32, BFLOAT16)))
@pytest.mark.parametrize("mode", dispatch_mode_params())
def test_compiled_matches_reference(mode, tol):
    """aot_eager, fullgraph, dynamic, HOP and custom op, x * 2 before and + 1
    after; 1, 8, 17 tokens; no graph break, at most one recompile."""
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
        SPEC, FLOAT32, mode=None, backend="inductor", tokens=COMPILED_TOKENS, width=64, device="cpu"
    )
    assert_at_most_one_recompile(counter, None, COMPILED_TOKENS)


def test_public_pieces_import_without_gpu(import_without_gpu_report):
    """Module, reference, input generator and input check work with no GPU and no interpreter."""
    check_imports_without_gpu(import_without_gpu_report, SPEC)
