"""Tracing registered wrappers with torch.compile, on CPU through Triton's interpreter.

Paths covered: 'hop' mode (Helion's HOP, captured and run under aot_eager),
'custom_op' mode (torch.library op, aot_eager and Inductor) and 'auto' mode
(on CPU: the custom op, because CPU Inductor cannot lower Helion's Triton
template). Kernels run eagerly in the interpreter inside every compiled graph.
"""

from __future__ import annotations

import sys

import pytest
import torch
from bridge_under_test import load_bridge
from kernels_for_tests import _add_into, _scale_rows, _sum_and_diff, _sum_list, make

_bridge = load_bridge()
HOP = _bridge.capabilities().hop_tracing
MODES = [pytest.param("hop", marks=pytest.mark.skipif(not HOP, reason="no HOP on this torch/helion")), "custom_op"]

scale_rows = make(_scale_rows)
add_into = make(_add_into)
sum_and_diff = make(_sum_and_diff)
sum_list = make(_sum_list)
scale_rows_other = make(_scale_rows)
scale_rows_no_hop = make(_scale_rows)


class Wrapper:
    """A minimal kernel wrapper, as an inference engine would write one."""

    def __init__(self, kernel, op_name):
        self.kernel, self.op_name = kernel, op_name

    def __call__(self, *args):
        return self.kernel(*args)


_bridge.register_wrapper_type(Wrapper, lambda w: w.kernel)
for _kernel, _name in [
    (scale_rows, "bt_scale_rows"),
    (add_into, "bt_add_into"),
    (sum_and_diff, "bt_sum_and_diff"),
    (sum_list, "bt_sum_list"),
    (scale_rows_other, "bt_scale_rows_other"),
]:
    _bridge.prepare_kernel(_kernel, op_name=_name, namespace="helion_ops_tests")
# An op whose implementation picks among several kernels per call (core's variants).
_bridge.prepare_kernel(scale_rows_no_hop, op_name="bt_scale_rows_no_hop", namespace="helion_ops_tests", hop_allowed=False)

W_SCALE = Wrapper(scale_rows, "bt_scale_rows")
W_ADD = Wrapper(add_into, "bt_add_into")
W_SUMDIFF = Wrapper(sum_and_diff, "bt_sum_and_diff")
W_LIST = Wrapper(sum_list, "bt_sum_list")
W_SCALE_OTHER = Wrapper(scale_rows_other, "bt_scale_rows_other")
W_SCALE_NO_HOP = Wrapper(scale_rows_no_hop, "bt_scale_rows_no_hop")


class Capture:
    """A backend that records each graph and runs it as is."""

    def __init__(self):
        self.graphs = []

    def __call__(self, gm, example_inputs):
        self.graphs.append(gm)
        return gm.forward

    def targets(self, index=-1):
        return [n.target for n in self.graphs[index].graph.nodes if n.op == "call_function"]


def _hop_nodes(targets):
    return [t for t in targets if getattr(t, "__name__", getattr(t, "_name", "")) == "helion_kernel_wrapper_mutation"]


def _custom_op_nodes(targets, name):
    return [t for t in targets if isinstance(t, torch._ops.OpOverload) and t.name() == f"helion_ops_tests::{name}"]


def _expected_nodes(mode, targets, name):
    return _hop_nodes(targets) if mode == "hop" else _custom_op_nodes(targets, name)


@pytest.mark.parametrize("mode", MODES)
def test_one_node_per_call_no_graph_break_and_eager_result(bridge, mode):
    bridge.set_mode(mode)
    x = torch.randn(6, 8)

    def f(x):
        return W_SCALE(x, 2.0) + W_SCALE(x, 3.0)

    capture = Capture()
    out = torch.compile(f, backend=capture, fullgraph=True)(x)
    torch.testing.assert_close(out, f(x))
    torch.testing.assert_close(out, x * 5.0)
    assert len(capture.graphs) == 1
    assert len(_expected_nodes(mode, capture.targets(), "bt_scale_rows")) == 2
    explanation = torch._dynamo.explain(f)(x)
    assert explanation.graph_break_count == 0


def test_auto_mode_on_cpu_uses_custom_op_and_inductor_compiles(bridge):
    assert bridge.resolve_mode("cpu", "x") is bridge.DynamoMode.CUSTOM_OP
    x = torch.randn(5, 8)
    capture = Capture()
    torch.compile(lambda x: W_SCALE(x, 2.0), backend=capture, fullgraph=True)(x)
    assert len(_custom_op_nodes(capture.targets(), "bt_scale_rows")) == 1
    torch._dynamo.reset()
    out = torch.compile(lambda x: W_SCALE(x, 2.0).relu(), fullgraph=True)(x)
    torch.testing.assert_close(out, (x * 2.0).relu())


@pytest.mark.parametrize("mode", MODES)
def test_in_place_mutation_visible_under_aot_eager(bridge, mode):
    bridge.set_mode(mode)
    x = torch.randn(5, 8)
    acc = torch.randn(5, 8)
    before = acc.clone()

    def f(x, acc):
        W_ADD(x, acc)
        return acc * 2

    out = torch.compile(f, backend="aot_eager", fullgraph=True)(x, acc)
    torch.testing.assert_close(acc, before + x)
    torch.testing.assert_close(out, (before + x) * 2)


@pytest.mark.parametrize("mode", MODES)
def test_three_batch_sizes_at_most_one_recompile(bridge, mode):
    bridge.set_mode(mode)
    capture = Capture()
    f = torch.compile(lambda x: W_SCALE(x, 2.0), backend=capture, fullgraph=True, dynamic=True)
    for rows in (3, 7, 12):
        x = torch.randn(rows, 8)
        torch.testing.assert_close(f(x), x * 2.0)
    assert len(capture.graphs) <= 2


@pytest.mark.parametrize("mode", MODES)
def test_swapping_the_wrapper_recompiles(bridge, mode):
    bridge.set_mode(mode)
    capture = Capture()
    current = {"w": W_SCALE}
    f = torch.compile(lambda x: current["w"](x, 2.0), backend=capture, fullgraph=True)
    x = torch.randn(4, 8)
    f(x)
    current["w"] = W_SCALE_OTHER
    torch.testing.assert_close(f(x), x * 2.0)
    assert len(capture.graphs) == 2
    expected = "bt_scale_rows_other"
    if mode == "hop":
        assert _hop_nodes(capture.targets(-1))
    else:
        assert _custom_op_nodes(capture.targets(-1), expected)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dynamic", [False, True])
def test_multiple_outputs_scalars_and_tensor_lists(bridge, mode, dynamic):
    bridge.set_mode(mode)
    a, b = torch.randn(6, 8), torch.randn(6, 8)

    def f(a, b, alpha):
        total, diff = W_SUMDIFF(a, b, alpha)
        return total, diff, W_LIST([a, b])

    compiled = torch.compile(f, backend="aot_eager", fullgraph=True, dynamic=dynamic)
    for alpha in (0.5, 1.5):
        total, diff, listed = compiled(a, b, alpha)
        torch.testing.assert_close(total, a + b * alpha)
        torch.testing.assert_close(diff, a - b * alpha)
        torch.testing.assert_close(listed, a + b)


def test_forced_hop_mode_without_hop_raises(bridge, monkeypatch):
    if HOP:
        pytest.skip("this torch/helion has the HOP")
    bridge.set_mode("hop")
    # The bridge's own error class reaches the caller (not Dynamo's InternalTorchDynamoError).
    with pytest.raises(bridge.UnsupportedModeError, match="dynamo mode 'hop' needs Helion's HOP"):
        torch.compile(lambda x: W_SCALE(x, 2.0), backend="aot_eager", fullgraph=True)(torch.randn(2, 8))


def test_a_kernel_prepared_without_the_hop_takes_the_custom_op_under_auto(bridge, monkeypatch):
    assert bridge.prepared_for(scale_rows_no_hop).side_table_index is None
    # As where auto would take the HOP (CUDA tensors and Inductor's lowering of it).
    hook = sys.modules[bridge.__name__ + "._hook"]
    monkeypatch.setattr(hook, "resolve_mode", lambda device_type, op_name: bridge.DynamoMode.HOP)
    capture = Capture()
    x = torch.randn(5, 8)
    out = torch.compile(lambda x: W_SCALE_NO_HOP(x, 2.0), backend=capture, fullgraph=True)(x)
    torch.testing.assert_close(out, x * 2.0)
    assert len(_custom_op_nodes(capture.targets(), "bt_scale_rows_no_hop")) == 1
    assert not _hop_nodes(capture.targets())


def test_forced_hop_mode_on_a_kernel_prepared_without_the_hop_raises(bridge):
    if not HOP:
        pytest.skip("no HOP on this torch/helion: the mode itself is refused (test above)")
    bridge.set_mode("hop")
    with pytest.raises(bridge.UnsupportedModeError, match="'bt_scale_rows_no_hop' chooses at run time among several"):
        torch.compile(lambda x: W_SCALE_NO_HOP(x, 2.0), backend="aot_eager", fullgraph=True)(torch.randn(2, 8))
