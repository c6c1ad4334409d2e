"""The six shipped ops as the hardening tests see them: the wrapper, the
pure-PyTorch reference, and small CPU inputs from each op's own generator.

A module of its own (not conftest): test_input_validation, test_op_contract
and the concurrency tests share it.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from collections.abc import Callable
from typing import Any

import torch
from _checks import interpreter_can_run, refused_hop

# The op modules are private (``_<op>``: the package exports each op under the
# module's name), imported with import_module.
fused_add_rms_norm_module = importlib.import_module("helion_ops.kernels._fused_add_rms_norm")
per_token_group_fp8_quant_module = importlib.import_module("helion_ops.kernels._per_token_group_fp8_quant")
rms_norm_module = importlib.import_module("helion_ops.kernels._rms_norm")
rotary_embedding_module = importlib.import_module("helion_ops.kernels._rotary_embedding")
silu_and_mul_module = importlib.import_module("helion_ops.kernels._silu_and_mul")
silu_and_mul_fp8_quant_module = importlib.import_module("helion_ops.kernels._silu_and_mul_fp8_quant")


@dataclasses.dataclass(frozen=True)
class Op:
    name: str
    wrapper: Any
    reference: Callable[..., Any]
    inputs: Callable[..., dict[str, tuple[object, ...]]]
    # The generator's ``hidden`` giving the small shape the tests use.
    small_hidden: int
    # Parameters the op writes in place.
    mutated: tuple[str, ...] = ()

    @property
    def params(self) -> list[str]:
        return list(inspect.signature(self.wrapper.raw_kernel_func).parameters)

    def args(self, tokens: int = 4, hidden: int | None = None, dtype: torch.dtype = torch.float32) -> list[Any]:
        """One call's arguments from the op's input generator, on CPU."""
        made = self.inputs(tokens=(tokens,), hidden=(hidden or self.small_hidden,), dtype=dtype, device="cpu")
        (args,) = made.values()
        return list(args)

    def shapes(self, dtype: torch.dtype = torch.float32) -> dict[str, tuple[object, ...]]:
        """Every shape of the generator's small CPU grid (tokens x two hidden
        sizes) that this Triton's interpreter can run (``_checks.interpreter_can_run``)."""
        made = self.inputs(tokens=(1, 3, 8), hidden=(self.small_hidden, 2 * self.small_hidden), dtype=dtype, device="cpu")
        return {name: args for name, args in made.items() if interpreter_can_run(self.wrapper, args)}


OPS = {
    op.name: op
    for op in (
        Op("rms_norm", rms_norm_module.rms_norm, rms_norm_module.rms_norm_reference, rms_norm_module.rms_norm_inputs, 64),
        Op(
            "fused_add_rms_norm",
            fused_add_rms_norm_module.fused_add_rms_norm,
            fused_add_rms_norm_module.fused_add_rms_norm_reference,
            fused_add_rms_norm_module.fused_add_rms_norm_inputs,
            64,
            mutated=("residual",),
        ),
        Op(
            "silu_and_mul",
            silu_and_mul_module.silu_and_mul,
            silu_and_mul_module.silu_and_mul_reference,
            silu_and_mul_module.silu_and_mul_inputs,
            32,
        ),
        Op(
            "silu_and_mul_fp8_quant",
            silu_and_mul_fp8_quant_module.silu_and_mul_fp8_quant,
            silu_and_mul_fp8_quant_module.silu_and_mul_fp8_quant_reference,
            silu_and_mul_fp8_quant_module.silu_and_mul_fp8_quant_inputs,
            32,
        ),
        Op(
            "per_token_group_fp8_quant",
            per_token_group_fp8_quant_module.per_token_group_fp8_quant,
            per_token_group_fp8_quant_module.per_token_group_fp8_quant_reference,
            per_token_group_fp8_quant_module.per_token_group_fp8_quant_inputs,
            64,
        ),
        Op(
            "rotary_embedding",
            rotary_embedding_module.rotary_embedding,
            rotary_embedding_module.rotary_embedding_reference,
            rotary_embedding_module.rotary_embedding_inputs,
            256,
            mutated=("query", "key"),
        ),
    )
}


def clone_args(args: list[Any]) -> list[Any]:
    return [a.clone() if isinstance(a, torch.Tensor) else a for a in args]


def results(op: Op, call: Callable[..., Any], args: list[Any]) -> list[torch.Tensor]:
    """What a call produces: its outputs, then the arguments it writes in place."""
    out = call(*args)
    outputs = [] if out is None else list(out) if isinstance(out, (tuple, list)) else [out]
    params = op.params
    return outputs + [args[params.index(name)] for name in op.mutated]


def assert_matches_reference(actual: list[torch.Tensor], expected: list[torch.Tensor]) -> None:
    """Float32 results against the reference. FP8 codes only by shape and dtype:
    Triton 3.9's interpreter rounds float32 -> float8 wrongly (see
    test_per_token_group_fp8_quant.py), so their values are compared with a
    single-threaded run of the same kernel instead (``assert_identical``)."""
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected, strict=True):
        assert (a.shape, a.dtype) == (e.shape, e.dtype)
        if a.dtype != torch.float8_e4m3fn:
            torch.testing.assert_close(a, e, rtol=1e-5, atol=1e-5)


def assert_identical(actual: list[torch.Tensor], expected: list[torch.Tensor]) -> None:
    """Bit for bit (NaN included): the same kernel on the same inputs."""
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected, strict=True):
        assert (a.shape, a.dtype) == (e.shape, e.dtype)
        assert torch.equal(a.contiguous().view(torch.uint8), e.contiguous().view(torch.uint8))


def hop_refuses(op: Op) -> bool:
    """Whether the bridge refuses Helion's HOP for this op here (forced ``hop``
    mode): where this torch/helion has no HOP, and where this helion's HOP
    would drop one of the op's in-place writes (helion <= 1.4 miss writes made
    through host views) instead of letting the caller see stale values."""
    from helion_ops import dynamo_bridge
    from helion_ops.dynamo_bridge import UnsupportedModeError

    torch._dynamo.reset()
    dynamo_bridge.set_mode("hop")
    try:
        torch.compile(lambda *a: op.wrapper(*a), backend="aot_eager", fullgraph=True)(*clone_args(op.args(tokens=2)))
    except UnsupportedModeError as exc:
        return refused_hop(exc)
    finally:
        dynamo_bridge.set_mode(None)
        torch._dynamo.reset()
    return False
