"""The op registry: duplicates, unknown names, concurrent registration."""

from __future__ import annotations

import threading
import types
from pathlib import Path

import helion.language as hl
import pytest
import torch
from op_names import unique

from helion_ops.core import (
    DuplicateOpError,
    HelionKernelWrapper,
    UnknownOpError,
    _registry,
    get_kernel,
    interpreter_active,
    register_kernel,
    registered_kernels,
)


# Helion kernels must be module-level functions (no closures).
def copy_rows(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for rows in hl.tile(x.size(0)):
        out[rows, :] = x[rows, :]
    return out


def double_rows(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for rows in hl.tile(x.size(0)):
        out[rows, :] = x[rows, :] * 2
    return out


def registry_default_name_kernel_e1f0(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for rows in hl.tile(x.size(0)):
        out[rows, :] = x[rows, :]
    return out


# These kernels have no configs on purpose: Helion's default config runs them.
pytestmark = pytest.mark.filterwarnings("ignore:op .*no config for key:RuntimeWarning")


# Tests that call a kernel run it on CPU tensors, in Triton's interpreter.
runs_kernels = pytest.mark.skipif(
    torch.cuda.is_available() or not interpreter_active(),
    reason="calls Helion kernels on CPU tensors: needs TRITON_INTERPRET=1",
)





@runs_kernels
def test_register_and_get(names: list[str], tmp_path: Path) -> None:
    name = unique("reg")
    names.append(name)
    wrapper = register_kernel(name, configs=tmp_path)(copy_rows)
    assert isinstance(wrapper, HelionKernelWrapper)
    assert wrapper.op_name == name
    assert wrapper.module == copy_rows.__module__
    assert get_kernel(name) is wrapper
    assert registered_kernels()[name] is wrapper
    x = torch.randn(5, 3)
    torch.testing.assert_close(wrapper(x), x)


def test_op_name_defaults_to_function_name(names: list[str], tmp_path: Path) -> None:
    names.append(registry_default_name_kernel_e1f0.__name__)
    wrapper = register_kernel(configs=tmp_path)(registry_default_name_kernel_e1f0)
    assert wrapper.op_name == "registry_default_name_kernel_e1f0"
    assert get_kernel("registry_default_name_kernel_e1f0") is wrapper


def test_duplicate_op_name_raises_duplicate_op_error(names: list[str], tmp_path: Path) -> None:
    name = unique("dup")
    names.append(name)
    first = register_kernel(name, configs=tmp_path)(copy_rows)
    try:
        expected = rf"op '{name}' is already registered by module '{copy_rows.__module__}'"
        with pytest.raises(DuplicateOpError, match=expected):
            register_kernel(name, configs=tmp_path)(double_rows)
    finally:
        # Whatever happened, the first registration is untouched.
        assert get_kernel(name) is first


@runs_kernels
def test_duplicate_registration_keeps_the_first(names: list[str], tmp_path: Path) -> None:
    name = unique("dup")
    names.append(name)
    first = register_kernel(name, configs=tmp_path)(copy_rows)
    with pytest.raises(Exception, match=name):
        register_kernel(name, configs=tmp_path)(double_rows)
    assert get_kernel(name) is first
    x = torch.randn(4, 2)
    torch.testing.assert_close(get_kernel(name)(x), x)


def test_registry_add_refuses_a_second_wrapper(names: list[str], tmp_path: Path) -> None:
    name = unique("dup")
    names.append(name)
    first = register_kernel(name, configs=tmp_path)(copy_rows)
    intruder = types.SimpleNamespace(op_name=name, module="someone.elses.module")
    with pytest.raises(
        DuplicateOpError,
        match=rf"op '{name}' is already registered by module '{first.module}'; "
        r"module 'someone\.elses\.module' tried to register it again",
    ):
        _registry.add(intruder)  # type: ignore[arg-type]
    assert get_kernel(name) is first


def test_unknown_op_suggests_close_name(names: list[str], tmp_path: Path) -> None:
    name = unique("fused_norm")
    names.append(name)
    register_kernel(name, configs=tmp_path)(copy_rows)
    typo = name.replace("fused_norm", "fused_nrom")
    with pytest.raises(UnknownOpError, match=rf"no op named '{typo}' is registered .*Did you mean '{name}'\?"):
        get_kernel(typo)


def test_unknown_op_without_close_name(names: list[str]) -> None:
    with pytest.raises(UnknownOpError, match=r"no op named 'zzzzzzzzzzzzzzzzzzzzzzzz' is registered") as info:
        get_kernel("zzzzzzzzzzzzzzzzzzzzzzzz")
    assert "Did you mean" not in str(info.value)
    assert isinstance(info.value, KeyError)


def test_unregister_forgets_the_op(tmp_path: Path) -> None:
    name = unique("gone")
    register_kernel(name, configs=tmp_path)(copy_rows)
    assert name in registered_kernels()
    _registry.unregister(name)
    assert name not in registered_kernels()
    with pytest.raises(UnknownOpError, match=name):
        get_kernel(name)


def test_registered_kernels_is_a_sorted_copy(names: list[str], tmp_path: Path) -> None:
    base = unique("sorted")
    for suffix in ("b", "a", "c"):
        names.append(f"{base}_{suffix}")
        register_kernel(f"{base}_{suffix}", configs=tmp_path)(copy_rows)
    snapshot = registered_kernels()
    assert list(snapshot) == sorted(snapshot)
    snapshot.clear()
    assert f"{base}_a" in registered_kernels()


@runs_kernels
def test_concurrent_registration_and_lookup(names: list[str], tmp_path: Path) -> None:
    threads_count = 8
    base = unique("conc")
    op_names = [f"{base}_{i}" for i in range(threads_count)]
    names.extend(op_names)
    start = threading.Barrier(threads_count)
    registered = threading.Barrier(threads_count)
    errors: list[BaseException] = []
    wrappers: dict[str, HelionKernelWrapper] = {}
    found: dict[int, dict[str, HelionKernelWrapper]] = {}
    lock = threading.Lock()

    def work(i: int) -> None:
        try:
            start.wait(timeout=60)
            wrapper = register_kernel(op_names[i], configs=tmp_path)(copy_rows if i % 2 else double_rows)
            with lock:
                wrappers[op_names[i]] = wrapper
            registered.wait(timeout=60)
            seen = {name: get_kernel(name) for name in op_names}
            with lock:
                found[i] = seen
        except BaseException as exc:  # noqa: BLE001 - reported below
            with lock:
                errors.append(exc)
            start.abort()
            registered.abort()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(threads_count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert sorted(wrappers) == sorted(op_names)
    assert sorted(found) == list(range(threads_count))
    for seen in found.values():
        assert all(seen[name] is wrappers[name] for name in op_names)
    all_registered = registered_kernels()
    assert all(all_registered[name] is wrappers[name] for name in op_names)
    # The registered ops are the kernels each thread asked for.
    x = torch.randn(3, 2)
    torch.testing.assert_close(get_kernel(op_names[0])(x), x * 2)
    torch.testing.assert_close(get_kernel(op_names[1])(x), x)
