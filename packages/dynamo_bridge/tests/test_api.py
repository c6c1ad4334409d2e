"""The bridge's public API without tracing: capabilities, modes, registration
errors, schema and mutation inference, fake outputs, vendorability."""

from __future__ import annotations

import ast
import dataclasses
import pathlib
import sys
import threading

import pytest
import torch
from bridge_under_test import load_bridge
from kernels_for_tests import _add_into, _scale_rows, _sum_and_diff, _sum_list, make


def test_capabilities_is_frozen_printable_and_probed(bridge):
    caps = bridge.capabilities()
    assert caps is bridge.capabilities()
    with pytest.raises(dataclasses.FrozenInstanceError):
        caps.hop_tracing = True  # type: ignore[misc]
    text = str(caps)
    assert f"torch_version          {torch.__version__}" in text or torch.__version__ in text
    assert caps.custom_op is True
    # Lowering implies tracing; fusion implies lowering.
    assert not caps.hop_inductor_lowering or caps.hop_tracing
    assert not caps.hop_inductor_fusion or caps.hop_inductor_lowering


def test_mode_from_setting_and_env(bridge, monkeypatch):
    monkeypatch.setenv(bridge.MODE_ENV_VAR, "custom_op")
    assert bridge.get_mode() is bridge.DynamoMode.CUSTOM_OP
    bridge.set_mode("auto")
    assert bridge.get_mode() is bridge.DynamoMode.AUTO
    bridge.set_mode(None)
    monkeypatch.setenv(bridge.MODE_ENV_VAR, "bogus")
    with pytest.raises(bridge.InvalidModeError, match="HELION_OPS_DYNAMO_MODE: expected one of auto, hop, custom_op, found 'bogus'"):
        bridge.get_mode()
    with pytest.raises(bridge.InvalidModeError, match="set_mode"):
        bridge.set_mode("fast")


def test_register_wrapper_type_rejects_non_classes(bridge):
    with pytest.raises(TypeError, match="expected a class, found function"):
        bridge.register_wrapper_type(lambda: None, lambda w: w)
    with pytest.raises(bridge.WrapperRegistrationError, match="kernel_of must be callable"):
        bridge.register_wrapper_type(type("W", (), {}), "kernel")


class _NotAKernelWrapper:
    op_name = "broken_op"

    def __call__(self, x):
        return x


def test_kernel_of_returning_no_kernel_names_the_op_at_first_trace(bridge):
    bridge.register_wrapper_type(_NotAKernelWrapper, lambda w: "not a kernel")
    w = _NotAKernelWrapper()
    with pytest.raises(TypeError, match="op 'broken_op': kernel_of\\(_NotAKernelWrapper\\) must return a helion.Kernel, found str"):
        torch.compile(lambda x: w(x), backend="eager", fullgraph=True)(torch.randn(2))


def test_register_is_idempotent_and_thread_safe(bridge):
    class Twice:
        pass

    def kernel_of(w):
        return w

    errors = []

    def register():
        try:
            bridge.register_wrapper_type(Twice, kernel_of)
        except Exception as exc:  # pragma: no cover - the assertion reports it
            errors.append(exc)

    threads = [threading.Thread(target=register) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert bridge.registered_wrapper_types().count(Twice) == 1


def test_schema_and_mutation_inference(bridge):
    assert bridge.infer_schema(_scale_rows, "s", []) == "(Tensor x, float alpha) -> Tensor"
    assert bridge.mutated_parameters(_add_into) == ["acc"]
    assert bridge.infer_schema(_add_into, "a", ["acc"]) == "(Tensor x, Tensor(a!) acc) -> ()"
    assert bridge.infer_schema(_sum_and_diff, "d", []) == "(Tensor a, Tensor b, float alpha=1.0) -> (Tensor, Tensor)"
    assert bridge.infer_schema(_sum_list, "l", []) == "(Tensor[] xs) -> Tensor"


def _unannotated(x, y: torch.Tensor) -> torch.Tensor:
    return y


def test_schema_errors_name_op_and_parameter(bridge):
    with pytest.raises(bridge.SchemaInferenceError, match="op 'u': parameter 'x' has no annotation"):
        bridge.infer_schema(_unannotated, "u", [])


def test_fake_outputs_without_launch(bridge):
    from torch._subclasses.fake_tensor import FakeTensorMode

    kernel = make(_sum_and_diff)
    with FakeTensorMode() as mode:
        a = mode.from_tensor(torch.empty(7, 5, dtype=torch.float16))
        total, diff = bridge.infer_fake_outputs(kernel, a, a, 2.0)
    for out in (total, diff):
        assert out.shape == (7, 5) and out.dtype == torch.float16 and out.stride() == (5, 1)


@pytest.mark.parametrize("traced_rows,eager_rows", [(3, 9), (2, 13)])
def test_fake_inference_leaves_the_kernels_eager_calls_alone(bridge, traced_rows, eager_rows):
    """Fake-impl path (what the custom op runs at trace time), then an eager
    call in the interpreter. Binding the kernel itself to concrete FakeTensors
    left a binding specialised to the traced size in its cache, which the eager
    call of another size reused: rows past the traced ones stayed unwritten
    (or were written past the end of the output)."""
    from torch._subclasses.fake_tensor import FakeTensorMode

    kernel = make(_scale_rows)
    for rows in (traced_rows, eager_rows):
        with FakeTensorMode() as mode:
            fake = bridge.infer_fake_outputs(kernel, mode.from_tensor(torch.empty(rows, 8)), 2.0)
        assert fake.shape == (rows, 8)
    x = torch.randn(eager_rows, 8)
    torch.testing.assert_close(kernel(x, 2.0), x * 2.0)


def test_prepare_kernel_rejects_bad_names_and_non_kernels(bridge):
    with pytest.raises(bridge.SchemaInferenceError, match="not a valid custom-op name"):
        bridge.prepare_kernel(make(_scale_rows), op_name="has-dash")
    with pytest.raises(bridge.SchemaInferenceError, match="expected a helion.Kernel"):
        bridge.prepare_kernel(_scale_rows, op_name="plain_function")


BRIDGE_DIR = pathlib.Path(load_bridge().__file__).parent


def _imports(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node, alias.name, 0
        elif isinstance(node, ast.ImportFrom):
            yield node, node.module or "", node.level


@pytest.mark.parametrize("path", sorted(BRIDGE_DIR.glob("*.py")), ids=lambda p: p.name)
def test_vendorable_only_relative_self_imports_and_torch_at_top(path):
    allowed_top = {"torch"} | set(sys.stdlib_module_names) | {"__future__"}
    tree = ast.parse(path.read_text())
    top_level = {id(n) for n in tree.body}
    for node, module, level in _imports(path):
        root = module.split(".")[0]
        assert not module.startswith("helion_ops"), f"{path.name}: absolute self-import {module!r}"
        if level == 0 and id(node) in top_level and path.name != "_size1_probe.py":
            assert root in allowed_top, f"{path.name}: third-party import {module!r} at module top"
