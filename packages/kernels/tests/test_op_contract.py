"""The op contract of every shipped op, on CPU through Triton's interpreter.

* Custom-op path: ``torch.library.opcheck`` on ``wrapper.prepared.custom_op``
  (schema incl. mutation annotations, fake impl, autograd registration, AOT
  dispatch with dynamic shapes) for small inputs from the op's generator.
* HOP path: the outputs' metadata (shape, stride, dtype, device) seen while
  tracing equals the real outputs', for every shape of the op's small input
  grid, from three sources: the HOP graph's example values (Helion's own
  output-spec inference under ``torch.compile``, mode forced to ``hop``),
  ``dynamo_bridge.infer_fake_outputs`` and the custom op's registered fake impl.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import helion
import helion.language as hl
import pytest
import torch
import torch.utils._pytree as pytree
from hardening_ops import OPS, Op, clone_args, hop_refuses, results
from torch._subclasses.fake_tensor import FakeTensorMode

from helion_ops import dynamo_bridge
from helion_ops.core import _registry, interpreter_active, register_kernel

pytestmark = pytest.mark.skipif(
    torch.cuda.is_available() or not interpreter_active(),
    reason="CPU tensors through Triton's interpreter: needs TRITON_INTERPRET=1 and no GPU",
)

OPCHECK_TESTS = ("test_schema", "test_autograd_registration", "test_faketensor", "test_aot_dispatch_dynamic")


def _metadata(values: Any) -> list[tuple[Any, ...]]:
    leaves = pytree.tree_leaves(values)
    return [
        (tuple(int(s) for s in t.shape), tuple(int(s) for s in t.stride()), t.dtype, t.device)
        if isinstance(t, torch.Tensor)
        else t
        for t in leaves
    ]


def _outputs(out: Any) -> list[Any]:
    return [] if out is None else list(out) if isinstance(out, (tuple, list)) else [out]


def _shape_ids(op: Op) -> list[str]:
    return list(op.shapes())


# ---------------------------------------------------------------- custom-op path


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
@pytest.mark.parametrize("tokens", [1, 5])
@pytest.mark.parametrize("op_name", list(OPS))
def test_opcheck_passes_on_the_custom_op(op_name: str, tokens: int, dtype: torch.dtype):
    """Custom-op path: every opcheck utility reports SUCCESS (it raises otherwise)."""
    op = OPS[op_name]
    report = torch.library.opcheck(op.wrapper.prepared.custom_op, tuple(op.args(tokens=tokens, dtype=dtype)))
    assert report == dict.fromkeys(OPCHECK_TESTS, "SUCCESS")


# ---------------------------------------------------------------- HOP path: fake vs real metadata


def _real_outputs(op: Op, args: tuple[object, ...]) -> list[Any]:
    return _outputs(op.wrapper(*clone_args(list(args))))


@pytest.mark.parametrize("op_name", list(OPS))
def test_hop_graph_example_values_match_real_outputs(op_name: str):
    """HOP path (forced on CPU, aot_eager, static shapes per compile): the
    example values of the graph's outputs, which Helion infers while tracing,
    have the real outputs' shape, stride, dtype and device, for every shape of
    the op's small input grid; the compiled results equal the eager ones."""
    op = OPS[op_name]
    if hop_refuses(op):
        pytest.skip(f"{op_name}: the bridge refuses Helion's HOP here (it would drop an in-place write)")
    checked = 0
    for shape_id, args in op.shapes().items():
        torch._dynamo.reset()
        graphs: list[torch.fx.GraphModule] = []

        def capture(gm: torch.fx.GraphModule, example_inputs: Any, graphs: list[torch.fx.GraphModule] = graphs) -> Any:
            graphs.append(gm)
            return torch._dynamo.lookup_backend("aot_eager")(gm, example_inputs)

        dynamo_bridge.set_mode("hop")
        try:
            compiled = torch.compile(lambda *a: op.wrapper(*a), backend=capture, fullgraph=True, dynamic=False)
            compiled_out = _outputs(compiled(*clone_args(list(args))))
        finally:
            dynamo_bridge.set_mode(None)
            torch._dynamo.reset()
        (gm,) = graphs
        targets = [str(n.target) for n in gm.graph.nodes if n.op == "call_function"]
        assert any("helion_kernel_wrapper" in t for t in targets), targets
        output_node = next(n for n in gm.graph.nodes if n.op == "output")
        fake = [n.meta["example_value"] for n in pytree.tree_leaves(output_node.args) if isinstance(n, torch.fx.Node)]
        real = _real_outputs(op, args)
        assert _metadata(fake) == _metadata(real), shape_id
        assert _metadata(compiled_out) == _metadata(real), shape_id
        checked += 1
    assert checked == len(op.shapes()) > 0


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
@pytest.mark.parametrize("op_name", list(OPS))
def test_infer_fake_outputs_match_real_outputs(op_name: str, dtype: torch.dtype):
    """dynamo_bridge.infer_fake_outputs on FakeTensors (no launch) against the
    real outputs, for every shape of the op's small input grid.

    A separate Kernel of the same function is inferred from, so that this test
    cannot change the registered op's later calls whatever the bridge does
    (test_infer_fake_outputs_leaves_later_real_calls_alone checks that part).
    """
    op = OPS[op_name]
    inference_kernel = helion.kernel(op.wrapper.raw_kernel_func, static_shapes=False)
    for shape_id, args in op.shapes(dtype=dtype).items():
        mode = FakeTensorMode()
        fake_args = [mode.from_tensor(a) if isinstance(a, torch.Tensor) else a for a in args]
        with mode:
            fake = _outputs(dynamo_bridge.infer_fake_outputs(inference_kernel, *fake_args))
        assert _metadata(fake) == _metadata(_real_outputs(op, args)), shape_id


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
@pytest.mark.parametrize("op_name", list(OPS))
def test_registered_fake_impl_matches_real_outputs(op_name: str, dtype: torch.dtype):
    """The custom op called on FakeTensors (its registered fake impl) against
    the real outputs, for every shape of the op's small input grid."""
    op = OPS[op_name]
    for shape_id, args in op.shapes(dtype=dtype).items():
        with FakeTensorMode() as mode:
            fake_args = [mode.from_tensor(a) if isinstance(a, torch.Tensor) else a for a in args]
            fake = _outputs(op.wrapper.prepared.custom_op(*fake_args))
        assert _metadata(fake) == _metadata(_real_outputs(op, args)), shape_id


# ---------------------------------------------------------------- infer_fake_outputs must not leak into real calls


def scale_rows(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for rows in hl.tile(x.size(0)):
        out[rows, :] = x[rows, :] * w[None, :]
    return out


def test_infer_fake_outputs_leaves_later_real_calls_alone(tmp_path: Path):
    """An op registered without reference or fake impl gets infer_fake_outputs as
    its fake impl. Tracing it (3 tokens) must not change what a later eager call
    with 5 tokens computes. (It did before the bridge bound a static-shape twin:
    the registered kernel's BoundKernel kept code masked to 3 rows.)"""
    name = f"hardening_scale_rows_{uuid.uuid4().hex}"
    config_file = tmp_path / name / "cpu.json"
    config_file.parent.mkdir()
    config_file.write_text(json.dumps([{"key": {}, "config": {"block_sizes": [2]}}]))
    wrapper = register_kernel(name, configs=tmp_path, missing_config="error")(scale_rows)
    try:
        w = torch.randn(16)
        mode = FakeTensorMode()
        with mode:
            dynamo_bridge.infer_fake_outputs(wrapper.kernel, mode.from_tensor(torch.randn(3, 16)), mode.from_tensor(w))
        x = torch.randn(5, 16)
        torch.testing.assert_close(wrapper(x, w), x * w)
    finally:
        _registry.unregister(name)


def test_real_calls_after_tracing_on_both_paths_stay_correct():
    """The six ops after HOP and custom-op traces of 3 tokens: eager calls with
    5 tokens still match the reference (their fake impl is the reference, and
    Helion's HOP inference keeps sizes symbolic)."""
    for op in OPS.values():
        for mode in ("custom_op",) if hop_refuses(op) else ("hop", "custom_op"):
            torch._dynamo.reset()
            dynamo_bridge.set_mode(mode)
            try:
                torch.compile(lambda *a, op=op: op.wrapper(*a), backend="aot_eager", fullgraph=True)(*op.args(tokens=3))
            finally:
                dynamo_bridge.set_mode(None)
                torch._dynamo.reset()
        args = op.args(tokens=5)
        got = results(op, op.wrapper, clone_args(args))
        want = results(op, op.reference, clone_args(args))
        for g, w in zip(got, want, strict=True):
            if g.dtype != torch.float8_e4m3fn:
                torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-5)
