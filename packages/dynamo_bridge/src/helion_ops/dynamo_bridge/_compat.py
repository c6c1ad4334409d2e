"""Every torch / helion version branch of the project lives in this module.

Each branch says which versions need it and when it can go. Capabilities are
probed (an import, an attribute, a bind that launches nothing), never inferred
from version numbers; versions are only recorded for humans.

Only torch is imported at module level; helion is imported on first use so
that the bridge imports on machines without it.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import importlib
import importlib.metadata
import os
import threading
import types
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple, cast

import torch

from ._errors import HelionUnavailableError


def distribution_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


@functools.cache
def helion_module() -> Any:
    """Import helion lazily; raise a clear error when it is missing or broken."""
    try:
        return importlib.import_module("helion")
    except Exception as exc:  # helion 1.5.1 on torch 2.11 raises ImportError
        raise HelionUnavailableError(
            f"helion could not be imported ({type(exc).__name__}: {exc}). "
            "Install a helion release that supports torch "
            f"{torch.__version__} (see the README's version table)."
        ) from exc


def helion_kernel_type() -> type[Any]:
    return cast("type[Any]", helion_module().Kernel)


# --------------------------------------------------------------------------
# Helion's higher-order op (HOP) for Dynamo.
# Needed: helion's ``_compiler._dynamo`` modules import only on torch >= 2.11
# (they use ``torch._library.effects``). On torch 2.9/2.10 the import fails and
# the bridge uses its custom-op path. The try/except can go when the oldest
# supported torch is 2.11.
# --------------------------------------------------------------------------
@functools.cache
def hop_modules() -> tuple[Any, Any] | None:
    """(higher_order_ops, variables) from helion, or None where they cannot load."""
    try:
        hop = importlib.import_module("helion._compiler._dynamo.higher_order_ops")
        variables = importlib.import_module("helion._compiler._dynamo.variables")
    except Exception:
        return None
    if not hasattr(variables, "HelionKernelVariable"):
        return None
    return hop, variables


def hop_unavailable_reason() -> str:
    try:
        importlib.import_module("helion._compiler._dynamo.higher_order_ops")
        importlib.import_module("helion._compiler._dynamo.variables")
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return "helion has no HelionKernelVariable"


def side_table_add(kernel: Any) -> int:
    mods = hop_modules()
    assert mods is not None
    return int(mods[0].helion_kernel_side_table.add_kernel(kernel))


def side_table_reset() -> None:
    mods = hop_modules()
    if mods is not None:
        mods[0].helion_kernel_side_table.reset_table()


def side_table_size() -> int:
    mods = hop_modules()
    return 0 if mods is None else len(mods[0].helion_kernel_side_table.id_to_kernel)


def make_helion_kernel_variable(kernel: Any, kernel_idx: int, source: Any) -> Any:
    """Helion's variable tracker: the emitted HOP runs the side-table kernel
    ``kernel_idx``; ``kernel`` (same function and signature) is what Helion
    binds at trace time to infer the output spec.

    helion 1.1-1.4 take ``(kernel, kernel_idx, **kw)``; 1.5 adds an optional
    ``inline`` tracker (left None: we always want the HOP). Both accept the
    keyword form used here, so no branch is needed yet.
    """
    mods = hop_modules()
    assert mods is not None
    return mods[1].HelionKernelVariable(kernel, kernel_idx, source=source)


# Needed with helion 1.1-1.4: ``helion.runtime.kernel._find_device`` recurses
# into a list of tensors with each tensor as the argument tuple, so it iterates
# the tensor. Under Dynamo, with symbolic sizes, that pins the first dimension
# of a list argument to its traced value (guard ``Eq(s0, 6)``), and helion 1.4
# then fails on the pinned size (``AssertionError`` in
# ``_maybe_recreate_symint``). While the bridge traces a HOP call we swap in a
# lookup that flattens containers first (same answer: the first tensor's
# device). helion 1.5 has its own lookup (``_argument_device``), where the
# probe finds nothing to fix. Can go when helion 1.5 is the oldest supported.
_device_lookup_lock = threading.RLock()


def _flatten_containers(values: Sequence[object]) -> list[object]:
    flat: list[object] = []
    for value in values:
        if isinstance(value, (list, tuple)):
            flat.extend(_flatten_containers(value))
        elif isinstance(value, dict):
            flat.extend(_flatten_containers(list(value.values())))
        else:
            flat.append(value)
    return flat


@functools.cache
def _device_lookup_iterating_tensors() -> Callable[..., Any] | None:
    """helion's ``_find_device`` where it iterates tensors inside lists, else None."""
    module = importlib.import_module("helion.runtime.kernel")
    find_device = getattr(module, "_find_device", None)
    if find_device is None:
        return None
    try:
        # A list holding one tensor with no rows: a lookup that iterates the
        # tensor finds nothing in it.
        find_device(([torch.empty(0, 1)],))
    except Exception:
        return find_device  # type: ignore[no-any-return]
    return None


@contextlib.contextmanager
def device_lookup_without_tensor_iteration() -> Iterator[None]:
    original = _device_lookup_iterating_tensors()
    if original is None:
        yield
        return
    module = importlib.import_module("helion.runtime.kernel")

    def find_device(args: Sequence[object]) -> Any:
        return original(tuple(_flatten_containers(args)))

    with _device_lookup_lock:
        vars(module)["_find_device"] = find_device
        try:
            yield
        finally:
            vars(module)["_find_device"] = original


# --------------------------------------------------------------------------
# Which in-place writes Helion's HOP writes back to the caller's tensors.
# Its functionalisation clones and returns only the parameters its output
# spec lists as mutated; helion <= 1.4 find those in the source only
# (``x[tile] = ...``), so a kernel writing through a view its host code takes
# (``xv = x.view(...)``, then ``xv[tile] = ...``) loses those writes on the
# HOP path; helion 1.5 also follows host views. Probed per kernel and call by
# asking Helion's own output-spec inference; can go when helion 1.5 is the
# oldest supported.
# --------------------------------------------------------------------------
class HopBindError(Exception):
    """Helion's HOP cannot bind a call's traced arguments (seen with helion 1.4
    under dynamic=True: an AssertionError recreating a symbolic size)."""


def hop_mutated_inputs(kernel: Any, args: Sequence[object]) -> frozenset[str] | None:
    """The parameters Helion's HOP would write back for a call of ``kernel``
    on ``args`` (FakeTensors), by the same output-spec inference the HOP runs;
    None where this helion has no such inference. Raises HopBindError where
    the inference fails, as the HOP itself then would."""
    mods = hop_modules()
    infer = None if mods is None else getattr(mods[1], "infer_output_spec", None)
    if infer is None:
        return None
    concrete = tuple(a if isinstance(a, torch.Tensor) else symbolic_scalar_hint(a) for a in args)
    try:
        with device_lookup_without_tensor_iteration():
            spec = infer(kernel, concrete)
    except Exception as exc:
        raise HopBindError(f"{type(exc).__name__}: {exc}".strip().rstrip(":")) from exc
    return frozenset(spec.get("mutated_inputs", ()))


# --------------------------------------------------------------------------
# Inductor lowering of the HOP.
# Needed: Helion's own lowering (``helion._compiler._inductor``) imports only on
# torch builds with ``FinalizeCodegenResult`` and the template-buffer hooks
# (torch 2.13+, not 2.11.0). It is a Triton template, so it exists for CUDA
# tensors only: CPU Inductor cannot host a Triton template. The probe can go
# when every supported torch has the hooks (the CUDA condition stays).
# --------------------------------------------------------------------------
@functools.cache
def inductor_hop_lowering() -> bool:
    if hop_modules() is None:
        return False
    try:
        compat = importlib.import_module("helion._compat")
        probe = getattr(compat, "supports_torch_compile_template_lowering", None)
        if probe is None:  # helion <= 1.5.0 exposes only the fusion probe
            probe = compat.supports_torch_compile_fusion
        if not probe():
            return False
        importlib.import_module("helion._compiler._inductor.template_buffer")
    except Exception:
        return False
    return True


@functools.cache
def inductor_hop_fusion() -> bool:
    if not inductor_hop_lowering():
        return False
    try:
        compat = importlib.import_module("helion._compat")
        return bool(compat.supports_torch_compile_fusion())
    except Exception:
        return False


# --------------------------------------------------------------------------
# Dynamo internals.
# ``VariableBuilder._type_dispatch`` (a cached classmethod returning a dict) is
# how Dynamo picks a tracker per Python type, on every torch from 2.9 to 2.15.
# When it goes private-er, this is the one place to change.
# --------------------------------------------------------------------------
def dynamo_type_dispatch() -> dict[type, Callable[..., Any]]:
    from torch._dynamo.variables.builder import VariableBuilder

    return cast("dict[type, Callable[..., Any]]", VariableBuilder._type_dispatch())


def traced_example_value(var: Any) -> Any:
    """What a traced argument stands for at trace time: a Python constant, a
    FakeTensor or SymInt (a node's ``example_value``), or a list of those;
    None where Dynamo keeps no value."""
    if var.is_python_constant():
        return var.as_python_constant()
    items = getattr(var, "items", None)
    if isinstance(items, (list, tuple)):
        return [traced_example_value(item) for item in items]
    try:
        proxy = var.as_proxy()
    except Exception:
        return None
    return getattr(getattr(proxy, "node", None), "meta", {}).get("example_value")


def id_match_guard() -> Any:
    from torch._dynamo.guards import GuardBuilder

    return GuardBuilder.ID_MATCH


def variable_tracker_base() -> type:
    from torch._dynamo.variables.base import VariableTracker

    return VariableTracker


def in_graph_function_variable(fn: Any) -> Any:
    from torch._dynamo.variables import TorchInGraphFunctionVariable

    return TorchInGraphFunctionVariable(fn)


def constant_variable(value: Any) -> Any:
    from torch._dynamo.variables import ConstantVariable

    return ConstantVariable.create(value)


def specialize_symbolic_scalar(var: Any, tx: Any) -> Any:
    """Turn a traced SymFloat or SymInt *argument* into a guarded Python scalar.

    Needed with every helion up to 1.5.1, whose kernel binding on the HOP path
    rejects both ("unsupported argument type: SymFloat / SymInt"): torch >=
    2.13 traces Python floats as SymFloats under dynamic=True
    (``specialize_float=False``), and every torch traces an int passed into the
    compiled function (a group or head size) as a SymInt. Kernel scalars are
    constants in practice, so specialising costs at most one recompile per
    distinct value; tensor sizes are not arguments and stay symbolic. Can go
    when helion binds symbolic scalars.
    """
    from torch._dynamo.variables import SymNodeVariable

    if isinstance(var, SymNodeVariable) and var.python_type() in (float, int):
        return constant_variable(var.evaluate_expr(tx.output))
    return var


# --------------------------------------------------------------------------
# helion 1.1-1.4 reuse a size-1 specialisation for larger sizes of a
# ``static_shapes=False`` kernel (wrong results after a first call with one
# row). 1.5.0 fixed it. We probe the behaviour with two binds that launch
# nothing and, where it is present, add a 0 / 1 / >=2 bucket of every tensor
# dimension to the kernel's cache key. Can go when helion 1.5 is the oldest.
# --------------------------------------------------------------------------
_size1_guard_forced_off = False


def set_size1_guard_forced_off(value: bool) -> None:
    """For demonstrating the bug only: switch the guard off even where helion
    needs it. Affects kernels whose key is made afterwards."""
    global _size1_guard_forced_off
    _size1_guard_forced_off = value


def size1_guard_forced_off() -> bool:
    return _size1_guard_forced_off


@functools.cache
def size1_specialisation_reused() -> bool:
    """The probe: does this helion hand a size-1 binding to a size-8 call?"""
    helion = helion_module()
    from ._size1_probe import probe_copy

    probe = helion.kernel(static_shapes=False)(probe_copy)
    one = probe.bind((torch.empty(1, 4),))
    eight = probe.bind((torch.empty(8, 4),))
    return one is eight


def size1_guard_needed() -> bool:
    """Whether kernel keys must tell size-1 dimensions apart (and the guard is on)."""
    return not _size1_guard_forced_off and size1_specialisation_reused()


def size_buckets(args: Sequence[object]) -> tuple[tuple[int, ...], ...]:
    """0 / 1 / 2 (meaning >= 2) for every dimension of every tensor argument,
    tensors inside lists and tuples included."""
    return tuple(
        tuple(min(int(s), 2) for s in a.shape)
        for a in _flatten_containers(args)
        if isinstance(a, torch.Tensor)
    )


def size1_guarded_key(key: Callable[..., Any] | None = None) -> Callable[..., Any] | None:
    """A ``key=`` for ``helion.kernel`` that adds :func:`size_buckets` to ``key``
    where this helion needs the size-1 guard; ``key`` unchanged elsewhere."""
    if not size1_guard_needed():
        return key
    if key is None:
        return lambda *args: size_buckets(args)
    user_key = key
    return lambda *args: (user_key(*args), size_buckets(args))


# Equal sizes. Needed on every helion we run (seen on 1.5.1 and 1.4.0 with
# per_token_group_fp8_quant): binding a ``static_shapes=False`` kernel gives
# equal sizes one symbol (torch's duck sizing), integer arguments included, and
# the generated host code is simplified under that equality (with ``group_size
# == hidden``, ``hidden // group_size`` becomes 1), yet the BoundKernel is
# filed under a key that calls with unequal sizes share: they then run a grid
# of one group per row. ``equal_size_pattern`` tells such calls apart; it can
# go once helion's own key records these equalities.


def equal_size_pattern(args: Sequence[object]) -> tuple[int, ...]:
    """Which of a call's sizes (every tensor dimension, then every integer
    argument, in order) are equal: each replaced by the position of the first
    equal one, so calls with the same equalities share a pattern."""
    values: list[int] = []
    for a in _flatten_containers(args):
        if isinstance(a, torch.Tensor):
            values.extend(int(s) for s in a.shape)
        elif isinstance(a, int) and not isinstance(a, bool):
            values.append(a)
    first: dict[int, int] = {}
    return tuple(first.setdefault(v, i) for i, v in enumerate(values))


def guarded_key(key: Callable[..., Any] | None = None) -> Callable[..., Any]:
    """The ``key=`` for ``helion.kernel`` of every registered kernel: ``key``
    (when given), the :func:`equal_size_pattern`, and the size-1 buckets where
    this helion needs the size-1 guard."""
    buckets = size1_guard_needed()

    def guarded(*args: Any) -> Any:
        user = key(*args) if key is not None else None
        return (user, equal_size_pattern(args), size_buckets(args) if buckets else None)

    return guarded


# --------------------------------------------------------------------------
# Fake outputs through Helion's binding: bind, compile the host code for one
# config and run it with a launcher that does nothing. Every helion from 1.1 to
# 1.5.1 generates host code taking ``_launcher=``.
#
# The binding goes to a static-shape twin of the kernel, never to the kernel
# itself. Needed on every helion from 1.1 to 1.5.1: ``Kernel.bind`` on
# FakeTensors with concrete sizes compiles a BoundKernel specialised to those
# sizes (``CompileEnvironment._to_fake_tensor`` keeps a foreign FakeTensor's
# int sizes static) but files it under the kernel's dynamic cache key, where
# later eager calls of any size in the same 0/1/>=2 bucket find it: their
# launch grid and masks are those of the traced size. Seen as heap corruption
# in Triton's interpreter (writes past the output; torch 2.9 + helion 1.1,
# torch 2.11 + helion 1.4) and as wrong or stale results elsewhere. A twin with
# ``static_shapes=True`` keys its bindings by exact size, so each one is only
# ever reused for the sizes it was made for, and the user's kernel keeps only
# bindings made from real arguments. Can go when helion binds FakeTensors into
# its dynamic specialisation or offers a bind that does not touch the cache.
# --------------------------------------------------------------------------
def static_shape_twin(kernel: Any) -> Any:
    """A new ``helion.Kernel`` over the same function and settings, with
    ``static_shapes=True`` and no key function (exact sizes are the key)."""
    settings = copy.copy(kernel.settings)
    settings.static_shapes = True
    return type(kernel)(kernel.fn, configs=list(kernel.configs), settings=settings)


def noop_launcher(*_args: object, **_kwargs: object) -> None:
    return None


def _static_size(values: Sequence[object]) -> list[int]:
    return [int(symbolic_scalar_hint(v)) for v in values]  # type: ignore[call-overload]


def static_bind_example(value: object, mode: Any) -> object:
    """A stand-in for ``value`` with concrete sizes, for ``Kernel.bind`` only.

    Tensors (fake, possibly with symbolic sizes from Dynamo's ShapeEnv)
    become FakeTensors of ``mode`` with the size hints: Helion's binding keeps
    its own ShapeEnv and mis-traces foreign symbols (seen with helion 1.5.1:
    ``MultipleReductionDims`` for a row reduction). Nothing is allocated.
    """
    if isinstance(value, torch.Tensor):
        with mode:
            return torch.empty_strided(
                _static_size(value.shape), _static_size(value.stride()), dtype=value.dtype, device=value.device
            )
    if isinstance(value, (list, tuple)):
        return type(value)(static_bind_example(v, mode) for v in value)
    return symbolic_scalar_hint(value)


def bind_outside_fake_modes(kernel: Any, args: tuple[object, ...]) -> Any:
    """``kernel.bind(args)`` with the caller's fake mode (Dynamo's, when a
    custom op's fake impl runs) switched off; ``args`` carry their own mode.

    Needed with helion 1.1: its ``_find_device`` recurses into a tensor list
    with each tensor as the argument tuple, so it iterates the tensor, an op
    that the outer fake mode refuses for our stand-ins ("Mixing fake modes
    NYI"). Helion's binding runs in its own fake mode anyway, so nothing is
    lost on other versions. Can go when helion 1.1 is no longer supported.
    """
    from torch._subclasses.fake_tensor import unset_fake_temporarily

    with unset_fake_temporarily():
        return kernel.bind(args)


def fresh_fake_mode() -> Any:
    from torch._subclasses.fake_tensor import FakeTensorMode, unset_fake_temporarily

    with unset_fake_temporarily():
        return FakeTensorMode(allow_non_fake_inputs=True)


def symbolic_scalar_hint(value: object) -> object:
    """A concrete stand-in for a symbolic scalar, for binding only."""
    if isinstance(value, (torch.SymInt, torch.SymFloat, torch.SymBool)):
        node = value.node
        hint = getattr(node, "hint", None)
        if hint is None:
            hint = {torch.SymInt: 2, torch.SymFloat: 1.0, torch.SymBool: True}[type(value)]
        return hint
    return value


# --------------------------------------------------------------------------
# torch.library across versions: ``Library.define/impl`` and
# ``torch.library.register_fake`` exist on every supported torch (2.9+).
# --------------------------------------------------------------------------
def register_fake(qualname: str, fn: Callable[..., Any], lib: Any) -> None:
    torch.library.register_fake(qualname, fn, lib=lib)


# --------------------------------------------------------------------------
# Errors raised while Dynamo traces. Dynamo re-wraps any exception raised
# during tracing as InternalTorchDynamoError, except a few classes it lets
# through; ``ShortenTraceback`` is one of them on every torch from 2.9 to
# 2.15. We raise our own error class, made a subclass of ShortenTraceback too,
# so the user sees our class and message (still catchable as TypeError etc.).
# Revisit if Dynamo changes its pass-through list.
# --------------------------------------------------------------------------
_trace_error_classes: dict[type, type] = {}


def error_for_tracing(exc: BaseException) -> BaseException:
    from torch._dynamo.exc import ShortenTraceback

    base = type(exc)
    cls = _trace_error_classes.get(base)
    if cls is None:

        def __init__(self: Any, message: str) -> None:
            Exception.__init__(self, message)
            self.first_useful_frame = None

        cls = type(base.__name__, (base, ShortenTraceback), {"__init__": __init__, "__module__": base.__module__})
        _trace_error_classes[base] = cls
    new = cls(str(exc))
    new.__cause__ = exc.__cause__
    return new


# --------------------------------------------------------------------------
# Direct eager launches (see _direct.py).
# Helion internals: ``Kernel.bind(args)`` returns the BoundKernel the call
# would use, and ``BoundKernel._run`` is its compiled host function (set by
# the first call), taking ``_launcher=`` like every generated host function:
# the same in helion 1.1 to 1.5.1. Triton internals: a launch returns the
# ``CompiledKernel``, whose ``run(grid_x, grid_y, grid_z, stream, function,
# packed_metadata, launch_metadata, enter_hook, exit_hook, *args)`` is the
# launch without Triton's argument binding; that form exists from triton 3.2
# (``packed_metadata``) to 3.9. Where either is missing, the bridge keeps
# Helion's launcher. Revisit with every helion and triton release.
# --------------------------------------------------------------------------
def compiled_host_function(kernel: Any, args: tuple[object, ...]) -> Callable[..., Any] | None:
    """The compiled host function a call of ``kernel`` on ``args`` runs; None
    before the first call compiled it or where helion keeps it elsewhere."""
    run = getattr(kernel.bind(args), "_run", None)
    return run if callable(run) else None


def plain_next_power_of_2() -> Callable[[int], int] | None:
    """Triton's ``next_power_of_2`` without its compile-time wrapper, or None
    where it has none. triton >= 3.5 wraps it in ``ConstexprFunction``, whose
    call unwraps constexpr arguments first: Helion's host code calls it once per
    reduction dimension per call, and on an H200 host that was about half of
    the host code's 5.9 us (rms_norm, tools/gpu_variants.py). The wrapped
    function (``.fn``) is the same code, for plain ints the same answer."""
    import triton

    fn = getattr(triton.next_power_of_2, "fn", None)
    return fn if callable(fn) else None


class _TritonWithPlainHelpers(types.ModuleType):
    """``triton`` as the host code sees it, ``next_power_of_2`` unwrapped."""

    def __init__(self, next_power_of_2: Callable[[int], int]) -> None:
        super().__init__("triton")
        self.next_power_of_2 = next_power_of_2

    def __getattr__(self, name: str) -> Any:
        import triton

        return getattr(triton, name)


def with_plain_triton_helpers(host: Callable[..., Any]) -> Callable[..., Any]:
    """``host`` (Helion's generated host function) seeing :func:`plain_next_power_of_2`
    as ``triton.next_power_of_2``; ``host`` itself where there is nothing to unwrap."""
    import triton

    plain = plain_next_power_of_2()
    if plain is None or not isinstance(host, types.FunctionType) or host.__globals__.get("triton") is not triton:
        return host
    env = dict(host.__globals__)
    env["triton"] = _TritonWithPlainHelpers(plain)
    fast = types.FunctionType(host.__code__, env, host.__name__, host.__defaults__, host.__closure__)
    fast.__kwdefaults__ = host.__kwdefaults__
    return fast


def helion_default_launcher() -> Callable[..., Any]:
    return helion_module().runtime.default_launcher  # type: ignore[no-any-return]


def triton_interpreter_active() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


def launchable_compiled_kernel(result: object) -> bool:
    """Whether a Triton launch's return value can be launched again directly."""
    return all(hasattr(result, name) for name in ("run", "function", "packed_metadata"))


def _hook_active(hook: object) -> bool:
    # triton >= 3.5 keeps each hook as a HookChain that is never None (an
    # empty chain means no hook); older triton stores None or a callable.
    calls = getattr(hook, "calls", None)
    return bool(calls) if calls is not None else hook is not None


def launch_hooks_check() -> Callable[[], bool]:
    """A cheap ``() -> bool``: is a launch hook set (a profiler such as proton,
    or Inductor's)? Those need Triton's own launch path, which calls them."""
    try:
        from triton import knobs
    except ImportError:  # triton < 3.3: hooks live on CompiledKernel; keep Triton's path
        return lambda: True
    runtime = knobs.runtime

    def active() -> bool:
        return _hook_active(runtime.launch_enter_hook) or _hook_active(runtime.launch_exit_hook)

    return active


def current_cuda_stream() -> Callable[[], int]:
    """A cheap ``() -> raw stream handle`` of the current CUDA device, as Triton
    launches use. Built only after a launch, so CUDA is initialised: the C
    getter skips ``torch.cuda.current_device``'s lazy-init check."""
    get_device = getattr(torch._C, "_cuda_getDevice", torch.cuda.current_device)
    get_stream = torch._C._cuda_getCurrentRawStream

    def stream() -> int:
        return get_stream(get_device())  # type: ignore[no-any-return]

    return stream


# A launch as ``launch(grid_x, grid_y, grid_z, stream, function, *head, *args)``.
RawLaunch = tuple[Callable[..., Any], Any, tuple[object, ...]]


def _tritons_launch(compiled: Any) -> RawLaunch:
    """Triton's compiled launcher (``CompiledKernel.run``) in RawLaunch form."""
    return compiled.run, compiled.function, (compiled.packed_metadata, None, None, None)


def recorded_raw_launch(compiled: Any, grid: tuple[int, int, int], stream: int, args: tuple[object, ...]) -> RawLaunch:
    """Launch ``compiled`` once and return how to launch it again.

    Triton's compiled launcher (a Python ``CudaLauncher``) allocates scratch
    buffers when the kernel needs them, then hands its C ``launch`` function
    the grid, stream and function, a few fixed values (cooperative-grid and
    PDL flags, metadata, hooks, scratch) and the kernel's arguments. For a
    kernel without scratch buffers, that Python layer does nothing a repeat
    launch needs (about 0.8 us per launch on an H200 host, triton 3.6).

    The layout of those fixed values differs between triton releases (3.5 and
    3.6 pass the kernel's arguments spread out at the end; 3.9 passes them as
    one tuple, with more values before), so it is probed, not assumed: this
    launch goes through the launcher's own code with a stand-in ``launch`` that
    records its arguments and then really launches. Where the recording shows
    the kernel's arguments spread unchanged at the end and only fixed values
    before them, the C function and those values are returned; otherwise (or
    with scratch buffers) Triton's compiled launcher is. Revisit with every
    triton release; the probe itself keeps unknown layouts on the safe path.
    """
    runner = compiled.run
    function = compiled.function
    metadata = compiled.packed_metadata
    scratch_free = getattr(runner, "global_scratch_size", 1) == 0 and getattr(runner, "profile_scratch_size", 1) == 0
    launch = getattr(runner, "launch", None)
    # The class's own __call__, to run it with a stand-in ``self`` (not a callability test).
    call = getattr(type(runner), "__call__", None)  # noqa: B004
    if not scratch_free or not callable(launch) or call is None:
        runner(*grid, stream, function, metadata, None, None, None, *args)
        return _tritons_launch(compiled)
    recorded: list[tuple[object, ...]] = []

    def record_and_launch(*launch_args: object) -> Any:
        recorded.append(launch_args)
        return launch(*launch_args)

    call(_RecordingLauncher(runner, record_and_launch), *grid, stream, function, metadata, None, None, None, *args)
    if len(recorded) != 1:
        return _tritons_launch(compiled)
    seen = recorded[0]
    n = len(args)
    head = seen[5 : len(seen) - n]
    spread_args = len(seen) >= 5 + n and all(a is b for a, b in zip(seen[len(seen) - n :], args, strict=True))
    fixed_head = all(v is None or v is metadata or type(v) in (bool, int) for v in head)
    if spread_args and fixed_head and tuple(seen[:5]) == (*grid, stream, function):
        return launch, function, head
    return _tritons_launch(compiled)


class _RecordingLauncher:
    """Triton's compiled launcher as its own ``__call__`` sees it, ``launch`` replaced."""

    def __init__(self, runner: Any, launch: Callable[..., Any]) -> None:
        self._runner = runner
        self.launch = launch

    def __getattr__(self, name: str) -> Any:
        return getattr(self._runner, name)


# --------------------------------------------------------------------------
# Recording the PyTorch operations of one host-code call (see _replay.py).
# torch internals: ``TorchDispatchMode`` (torch.utils._python_dispatch) sees
# every ATen operation a Python call runs, factory functions included, and
# ``OpOverload.is_view`` marks operations whose result aliases an input; both
# exist from torch 2.0 to 2.15. Revisit with every torch release.
# --------------------------------------------------------------------------
_ALLOCATION_OPS = frozenset({"aten.empty", "aten.empty_like", "aten.empty_strided", "aten.new_empty", "aten.new_empty_strided"})


class RecordedOp(NamedTuple):
    """One ATen operation: ``allocation`` (an empty tensor), ``view`` (of
    ``source``, its first tensor argument) or ``other``."""

    kind: str
    source: torch.Tensor | None
    result: object

    def results(self) -> list[torch.Tensor]:
        values = self.result if isinstance(self.result, (list, tuple)) else [self.result]
        return [v for v in values if isinstance(v, torch.Tensor)]


def _classify(func: Any, args: Sequence[object], result: object) -> RecordedOp:
    if str(func.overloadpacket) in _ALLOCATION_OPS:
        return RecordedOp("allocation", None, result)
    if getattr(func, "is_view", False):
        source = next((a for a in args if isinstance(a, torch.Tensor)), None)
        return RecordedOp("view", source, result)
    return RecordedOp("other", None, result)


@functools.cache
def _recorder_type() -> type:
    from torch.utils._python_dispatch import TorchDispatchMode

    class _Recorder(TorchDispatchMode):  # type: ignore[misc]
        def __init__(self, ops: list[RecordedOp]) -> None:
            super().__init__()
            self.ops = ops

        def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
            result = func(*args, **(kwargs or {}))
            self.ops.append(_classify(func, args, result))
            return result

    return _Recorder


@contextlib.contextmanager
def recorded_aten_ops() -> Iterator[list[RecordedOp]]:
    """Within the block, every ATen operation run is appended to the list yielded."""
    ops: list[RecordedOp] = []
    with _recorder_type()(ops):
        yield ops


# --------------------------------------------------------------------------
# Inductor's launch configs, for benchmark records (which config Inductor's
# own autotuning kept decides how fast a baseline is).
# torch internals: ``torch._inductor.codecache.PyCodeCache.modules`` holds every
# module of generated code the process loaded (a list on torch 2.9-2.15), and
# each Triton kernel in one is a ``CachingAutotuner`` whose ``launchers`` keep
# the configs left after its first call (``config.kwargs``, ``num_warps``,
# ``num_stages``; ``n_regs`` and ``n_spills`` once compiled). Probed: where any of it is
# missing, nothing is recorded. Revisit with every torch release.
# --------------------------------------------------------------------------
def _inductor_loaded_modules() -> list[Any]:
    try:
        from torch._inductor.codecache import PyCodeCache
    except Exception:
        return []
    modules = getattr(PyCodeCache, "modules", None)
    return list(modules) if isinstance(modules, (list, tuple)) else []


def _launch_description(name: str, launcher: Any) -> str | None:
    config = getattr(launcher, "config", None)
    if config is None:
        return None
    fields = [f"{key}={value}" for key, value in sorted(getattr(config, "kwargs", {}).items())]
    fields += [f"num_warps={getattr(config, 'num_warps', '?')}", f"num_stages={getattr(config, 'num_stages', '?')}"]
    for label, attribute in (("regs", "n_regs"), ("spills", "n_spills")):
        value = getattr(launcher, attribute, None)
        if value is not None:
            fields.append(f"{label}={value}")
    return f"{name}: {' '.join(fields)}"


def _module_launches(module: Any) -> list[str]:
    namespace = getattr(module, "__dict__", None)
    if not isinstance(namespace, dict):
        return []
    lines = []
    for name, value in sorted(namespace.items()):
        try:  # any attribute of generated code: a diagnostic must not fail the caller
            launchers = list(getattr(value, "launchers", None) or ())
        except Exception:
            continue
        lines += [line for launcher in launchers if (line := _launch_description(name, launcher)) is not None]
    return lines


@contextlib.contextmanager
def recorded_inductor_launches() -> Iterator[list[str]]:
    """On leaving the block, the list yielded holds one line per launch config
    of each Triton kernel Inductor loaded inside it ("kernel: XBLOCK=512
    num_warps=8 num_stages=1 regs=13"); empty where Inductor generated no
    Triton (CPU) or reused a module loaded before the block."""
    before = {id(module) for module in _inductor_loaded_modules()}
    lines: list[str] = []
    try:
        yield lines
    finally:
        for module in _inductor_loaded_modules():
            if id(module) not in before:
                lines.extend(_module_launches(module))
