"""rotary_embedding (NeoX) on CPU through Triton's interpreter: eager and
compiled on both dispatch paths, query and key rotated in place as the
caller sees them, odd shapes (head sizes 32, 48 and 80: halves that are not
powers of two are padded and masked), int32 and int64 positions, and the
size-1-first call order. Tolerances: ``_checks.TOLERANCES`` for both updated tensors.
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
    run_compiled_scalar_arguments,
    run_size_one_first,
    selected_key,
    tolerance_params,
)

SPEC = SPECS["rotary_embedding"]
MODULE = SPEC.module
# (tokens, query width), heads of min(128, width // 2): two query heads and one
# key head. 64 is a key of cpu.json; 96 and 160 fall back to hidden=64.
SHAPES = [(1, 64), (3, 64), (17, 64), (1, 96), (3, 160), (17, 96)]
KEYS = {(1, 64): "hidden=64,numtokens=1", (3, 64): "hidden=64,numtokens=16", (17, 160): "hidden=64,numtokens=16"}
COMPILED_TOKENS = (1, 8, 17)


@pytest.mark.parametrize("tol", tolerance_params())
@pytest.mark.parametrize("tokens,width", SHAPES)
def test_eager_matches_reference(tokens, width, tol):
    """Eager call (interpreter): the caller's query and key against the reference's."""
    check_call(SPEC, tol, SPEC.op, SPEC.make_args(tokens, width, tol.dtype, "cpu"))


@pytest.mark.parametrize("tokens,width", list(KEYS))
def test_shapes_select_the_intended_config(tokens, width):
    assert selected_key(SPEC, tokens, width) == KEYS[(tokens, width)]


def test_int32_positions_and_more_heads():
    """int32 positions, 4 query heads of 32 and 2 key heads (GQA)."""
    positions, query, key, cache, head_size = SPEC.make_args(6, 64, torch.float32, "cpu")
    query = torch.randn(6, 4 * head_size)
    key = torch.randn(6, 2 * head_size)
    check_call(SPEC, FLOAT32, SPEC.op, (positions.to(torch.int32), query, key, cache, head_size))


def test_rotation_keeps_pair_norms_and_position_zero_is_identity():
    """Independent of the reference: a rotation keeps |(x1, x2)| of every pair,
    and position 0 (cos 1, sin 0) leaves its token unchanged, in place."""
    positions, query, key, cache, head_size = SPEC.make_args(5, 64, torch.float32, "cpu")
    positions[0] = 0
    half = head_size // 2
    before_q, before_k = query.clone(), key.clone()

    def pair_norms(states):
        heads = states.reshape(states.size(0), -1, head_size)
        return torch.hypot(heads[..., :half], heads[..., half:])

    storage = (query.data_ptr(), key.data_ptr())
    SPEC.op(positions, query, key, cache, head_size)
    assert (query.data_ptr(), key.data_ptr()) == storage
    torch.testing.assert_close(pair_norms(query), pair_norms(before_q), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(pair_norms(key), pair_norms(before_k), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(query[0], before_q[0], atol=0, rtol=0)
    torch.testing.assert_close(key[0], before_k[0], atol=0, rtol=0)
    assert not torch.equal(query[1:], before_q[1:])


@pytest.mark.parametrize("tol", tolerance_params((FLOAT32, BFLOAT16)))
def test_size_one_first_then_larger_sizes_stay_correct(tol):
    """Eager, first call with one token, then 8 and 33 tokens."""
    run_size_one_first(SPEC, tol, tokens=(1, 8, 33), width=64, device="cpu")


@pytest.mark.parametrize("tol", tolerance_params((FLOAT32, BFLOAT16)))
@pytest.mark.parametrize("mode", dispatch_mode_params())
def test_compiled_matches_reference(mode, tol):
    """aot_eager, fullgraph, dynamic, HOP and custom op, cache * 2 before and
    + 1 on query and key after, head size a constant; 1, 8, 17 tokens; the
    in-place rotation reaches the caller's tensors; no graph break, at most
    one recompile."""
    counter = run_compiled(
        SPEC, tol, mode=mode, backend="aot_eager", tokens=COMPILED_TOKENS, width=64, device="cpu"
    )
    assert_at_most_one_recompile(counter, mode, COMPILED_TOKENS)


@pytest.mark.parametrize("mode", dispatch_mode_params())
def test_compiled_with_scalar_arguments(mode):
    """aot_eager, head size passed into the compiled function (a SymInt under dynamic=True)."""
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
    copies the functionalised query/key updates back into the caller's tensors."""
    counter = run_compiled(
        SPEC, FLOAT32, mode=None, backend="inductor", tokens=COMPILED_TOKENS, width=64, device="cpu"
    )
    assert_at_most_one_recompile(counter, None, COMPILED_TOKENS)


def test_public_pieces_import_without_gpu(import_without_gpu_report):
    """Module, reference, input generator, cache builder and input check work with no GPU and no interpreter."""
    check_imports_without_gpu(import_without_gpu_report, SPEC)
    assert callable(MODULE.rope_cos_sin_cache)
