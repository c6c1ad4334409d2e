"""fused_add_rms_norm on CPU through Triton's interpreter: eager and compiled on
both dispatch paths, the residual updated in place as the caller sees it, odd
shapes (including the hidden=96 config, which splits the row into a
reduction loop), and the size-1-first call order. Tolerances:
``_checks.TOLERANCES`` for the output and the updated residual."""

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
    skip_if_interpreter_cannot_run_config,
    tolerance_params,
)

SPEC = SPECS["fused_add_rms_norm"]
# (tokens, hidden): 64 has keys for 1 and 16 tokens; 96 only for 16 tokens
# (its config loops over the row in chunks of 32); 160 falls back to the
# largest key, hidden=96, so it loops five times with a masked last chunk.
# At 80 the op's own kernel serves 1 token and its ``stored_sum`` variant
# the rest: whole rows up to 4 tokens (reading back the row just stored),
# then a loop over chunks of 32 (the last one masked) whose second pass
# reads the stored sum back.
SHAPES = [(1, 64), (3, 64), (17, 64), (1, 96), (3, 96), (17, 160), (1, 80), (3, 80), (5, 80), (17, 80)]
KEYS = {
    (1, 64): "hidden=64,numtokens=1",
    (17, 64): "hidden=64,numtokens=16",
    (1, 96): "hidden=96,numtokens=16",
    (17, 160): "hidden=96,numtokens=16",
    (1, 80): "hidden=80,numtokens=1",
    (3, 80): "hidden=80,numtokens=4",
    (17, 80): "hidden=80,numtokens=16",
}
STORED_SUM_KEYS = {"hidden=80,numtokens=4", "hidden=80,numtokens=16"}
COMPILED_TOKENS = (1, 8, 17)


@pytest.mark.parametrize("tol", tolerance_params())
@pytest.mark.parametrize("tokens,hidden", SHAPES)
def test_eager_matches_reference(tokens, hidden, tol):
    """Eager call (interpreter): output and the caller's residual against the reference."""
    check_call(SPEC, tol, SPEC.op, SPEC.make_args(tokens, hidden, tol.dtype, "cpu"))


@pytest.mark.parametrize("tokens,hidden", list(KEYS))
def test_shapes_select_the_intended_config(tokens, hidden):
    assert selected_key(SPEC, tokens, hidden) == KEYS[(tokens, hidden)]
    entry = SPEC.op.configured.entries[KEYS[(tokens, hidden)]]
    assert entry.variant == ("stored_sum" if entry.key_id in STORED_SUM_KEYS else None)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("hidden", [64, 160, 80])
def test_residual_holds_the_rounded_sum_in_place(hidden, dtype):
    """Independent of the reference: after the call the caller's residual tensor
    (same storage) holds x + residual rounded once to the dtype, exactly; also
    through the reduction-loop config (hidden 160), where a store before the
    reduction would add x twice, and through the ``stored_sum`` variant's
    loop (hidden 80), whose second pass reads that store back."""
    x, residual, weight, eps = SPEC.make_args(5, hidden, dtype, "cpu")
    skip_if_interpreter_cannot_run_config(SPEC, (x, residual, weight, eps))
    expected_sum = (x.float() + residual.float()).to(dtype)
    storage = residual.data_ptr()
    SPEC.op(x, residual, weight, eps)
    assert residual.data_ptr() == storage
    torch.testing.assert_close(residual, expected_sum, atol=0, rtol=0)


@pytest.mark.parametrize("tol", tolerance_params((FLOAT32, BFLOAT16)))
def test_size_one_first_then_larger_sizes_stay_correct(tol):
    """Eager, first call with one token, then 8 and 33 tokens."""
    run_size_one_first(SPEC, tol, tokens=(1, 8, 33), width=64, device="cpu")


@pytest.mark.parametrize("tol", tolerance_params((FLOAT32, BFLOAT16)))
@pytest.mark.parametrize("mode", dispatch_mode_params())
def test_compiled_matches_reference(mode, tol):
    """aot_eager, fullgraph, dynamic, HOP and custom op, x * 2 before and + 1
    after; 1, 8, 17 tokens; the residual update reaches the caller's tensor;
    no graph break, at most one recompile."""
    counter = run_compiled(
        SPEC, tol, mode=mode, backend="aot_eager", tokens=COMPILED_TOKENS, width=64, device="cpu"
    )
    assert_at_most_one_recompile(counter, mode, COMPILED_TOKENS)


@pytest.mark.parametrize("tol", tolerance_params((FLOAT32, BFLOAT16)))
def test_compiled_graph_runs_each_calls_kernel_variant(tol):
    """aot_eager, fullgraph, dynamic, default mode (the custom op: the HOP
    runs one kernel): at hidden 80 one graph serves 1 token (the op's own
    kernel), 3 and 17 tokens (its ``stored_sum`` variant, whole rows and a
    row loop); results and the residual update checked at each."""
    tokens = (1, 3, 17)
    counter = run_compiled(SPEC, tol, mode=None, backend="aot_eager", tokens=tokens, width=80, device="cpu")
    assert_at_most_one_recompile(counter, None, tokens)


@pytest.mark.parametrize("mode", dispatch_mode_params())
def test_compiled_with_scalar_arguments(mode):
    """aot_eager, eps passed into the compiled function (a SymFloat under dynamic=True)."""
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
    """The default mode (custom op on CPU) under Inductor's CPU backend, which
    copies the functionalised residual update back into the caller's tensor."""
    counter = run_compiled(
        SPEC, FLOAT32, mode=None, backend="inductor", tokens=COMPILED_TOKENS, width=96, device="cpu"
    )
    assert_at_most_one_recompile(counter, None, COMPILED_TOKENS)


def test_public_pieces_import_without_gpu(import_without_gpu_report):
    """Module, reference, input generator and input check work with no GPU and no interpreter."""
    check_imports_without_gpu(import_without_gpu_report, SPEC)
