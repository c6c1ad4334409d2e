"""In-place writes through a host view on the HOP path (CPU, interpreter).

Helion's HOP writes back only the parameters its output spec lists as
mutated. Where this helion does not see a write made through a view the
host code takes (helion <= 1.4), the bridge must not let the HOP drop it:
forced 'hop' mode refuses with a clear error, 'auto' takes the custom op.
Where helion sees it (1.5+), the HOP path updates the caller's tensor.
"""

from __future__ import annotations

import importlib

import pytest
import torch
from bridge_under_test import BRIDGE_MODULE, load_bridge
from kernels_for_tests import _add_one_through_view, make

_bridge = load_bridge()
_compat = importlib.import_module(f"{BRIDGE_MODULE}._compat")
_fake = importlib.import_module(f"{BRIDGE_MODULE}._fake")
pytestmark = pytest.mark.skipif(not _bridge.capabilities().hop_tracing, reason="no HOP on this torch/helion")

add_one = make(_add_one_through_view)


class ViewWriter:
    def __init__(self, kernel):
        self.kernel, self.op_name = kernel, "bt_add_one_through_view"

    def __call__(self, *args):
        return self.kernel(*args)


_bridge.register_wrapper_type(ViewWriter, lambda w: w.kernel)
_bridge.prepare_kernel(add_one, op_name="bt_add_one_through_view", namespace="helion_ops_tests", mutates_args=["x"])
WRITER = ViewWriter(add_one)


def _helion_hop_sees_the_write() -> bool:
    seen = _compat.hop_mutated_inputs(_fake.static_twin(add_one), (torch.zeros(4, 4),))
    assert seen is not None, "Helion's output-spec inference failed on a plain call"
    return "x" in seen


@pytest.mark.parametrize("mode", ["hop", None])
def test_view_writes_reach_the_caller_or_the_hop_is_refused(mode):
    x = torch.randn(4, 4)
    expected = x + 1
    _bridge.set_mode(mode)
    try:
        compiled = torch.compile(lambda t: WRITER(t), backend="aot_eager", fullgraph=True)
        if mode == "hop" and not _helion_hop_sees_the_write():
            with pytest.raises(_bridge.UnsupportedModeError, match="would not write back the in-place update of 'x'"):
                compiled(x)
            return
        compiled(x)
    finally:
        _bridge.set_mode(None)
    torch.testing.assert_close(x, expected)
