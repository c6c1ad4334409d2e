"""Replaying Helion's host code instead of running it, for repeat eager calls.

A plan serves calls whose every tensor has the same sizes, strides, dtype,
device and pointer alignment, and whose every other argument is equal (see
``helion_ops.core``'s call signatures). For such calls, most generated host
code computes the same things again: the same sizes and strides, the same
grid, the same views (at the same offsets from the tensors they view), and
allocates outputs of the same layout. Only the tensors' addresses change.

So a plan records one call of its host code: every PyTorch operation it runs
(through a dispatch mode) and every kernel launch. Where the host code did
nothing but allocate empty tensors, take views and launch kernels that the
launcher can start directly, the recording becomes a :class:`Replay`: allocate
tensors of the recorded layouts, then start each kernel with the recorded
grid and constants and, for each tensor argument, the current address of the
input or allocation it came from plus the recorded byte offset. Anything else
(a fill, a copy, arithmetic, ``.item()``, a tensor from elsewhere, a returned
view) leaves the plan running the host code, as before.

Why addresses and offsets rather than identity alone: host code passes views
(``x.view(m, 2, n)``) to kernels. A view is traced to the argument it was
taken from, never matched by storage: two inputs can share one buffer (query
and key sliced from one qkv tensor), and a later call's inputs need not.

What a replay assumes of host code, beyond what the recording checks: no
Python side effects of its own, and module-level values it reads (constants
such as an fp8 maximum) do not change between calls. Helion's generated host
code is straight-line code over sizes, views and allocations.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import torch

from . import _compat

# A plan records up to this many calls while its launcher is still learning
# the kernels' direct launches (a kernel's first launch compiles through
# Helion, its second learns the C launch; see _direct).
MAX_RECORDINGS = 4

_SCALARS = (int, float, bool, type(None))


class _Pointer(NamedTuple):
    """A launch argument rebuilt per call: the address of ``args[source_index]``
    (or of that allocation) plus a byte offset."""

    position: int
    from_allocation: bool
    source_index: int
    offset: int


class _Launch(NamedTuple):
    launch: Callable[..., Any]
    function: Any
    head: tuple[object, ...]
    grid: tuple[int, int, int]
    constants: tuple[object, ...]
    pointers: tuple[_Pointer, ...]


# Where a returned tensor comes from: (from_allocation, index).
_Source = tuple[bool, int]
_ResultShape = None | _Source | tuple[type, tuple[_Source, ...]]


class Replay:
    """One recorded call of a plan's host code, run again for new arguments.

    ``run(*args)`` is a function generated for this recording: straight-line
    code with the allocations, the launches and the return value written out,
    every recorded value (sizes, grid, scalars, the launch function) bound by
    name from a namespace, never printed into the source. Host time is what
    this path is for: a generic loop over the recording (rebuilding argument
    lists per call) cost about 2 us per rms_norm call on an H100 host beyond
    the C launch and the allocation it drives."""

    __slots__ = ("launch_count", "run", "source")

    def __init__(
        self,
        allocations: Sequence[tuple[tuple[int, ...], tuple[int, ...], torch.dtype, torch.device]],
        launches: Sequence[_Launch],
        result: _ResultShape,
        stream: Callable[[], int],
        arg_count: int,
    ) -> None:
        self.launch_count = len(launches)
        self.source, namespace = _replay_source(allocations, launches, result, arg_count)
        namespace["empty_strided"] = torch.empty_strided
        namespace["stream"] = stream
        exec(compile(self.source, "<helion-ops host-code replay>", "exec"), namespace)  # noqa: S102
        self.run: Callable[..., Any] = namespace["replay"]


def _replay_source(
    allocations: Sequence[tuple[tuple[int, ...], tuple[int, ...], torch.dtype, torch.device]],
    launches: Sequence[_Launch],
    result: _ResultShape,
    arg_count: int,
) -> tuple[str, dict[str, Any]]:
    """The replay function's source and the namespace its names refer to."""
    namespace: dict[str, Any] = {}

    def bound(value: object) -> str:
        name = f"c{len(namespace)}"
        namespace[name] = value
        return name

    def tensor(source: _Source) -> str:
        from_allocation, index = source
        return f"out{index}" if from_allocation else f"arg{index}"

    lines = [f"def replay({''.join(f'arg{i}, ' for i in range(arg_count))}):"]
    for j, (size, stride, dtype, device) in enumerate(allocations):
        lines.append(
            f"    out{j} = empty_strided({bound(size)}, {bound(stride)}, dtype={bound(dtype)}, device={bound(device)})"
        )
    lines.append("    s = stream()")
    for launch in launches:
        pointers = {p.position: p for p in launch.pointers}
        values = [bound(v) for v in launch.grid] + ["s", bound(launch.function)] + [bound(v) for v in launch.head]
        for position, constant in enumerate(launch.constants):
            pointer = pointers.get(position)
            if pointer is None:
                values.append(bound(constant))
            else:
                address = f"{tensor((pointer.from_allocation, pointer.source_index))}.data_ptr()"
                values.append(address if pointer.offset == 0 else f"{address} + {bound(pointer.offset)}")
        lines.append(f"    {bound(launch.launch)}({', '.join(values)})")
    if result is None:
        lines.append("    return None")
    elif isinstance(result[0], bool):
        lines.append(f"    return {tensor(result)}")  # type: ignore[arg-type]
    else:
        container, items = result  # type: ignore[misc]
        listed = "".join(f"{tensor(item)}, " for item in items)
        lines.append(f"    return ({listed})" if container is tuple else f"    return [{listed}]")
    return "\n".join(lines) + "\n", namespace


class RecordedLaunch(NamedTuple):
    kernel: object
    grid: tuple[int, ...]
    args: tuple[object, ...]
    direct: _compat.RawLaunch | None  # None: this launch was not a direct one


def build_replay(
    args: tuple[Any, ...],
    operations: Sequence[_compat.RecordedOp],
    launches: Sequence[RecordedLaunch],
    result: Any,
    stream: Callable[[], int],
) -> Replay | None:
    """The :class:`Replay` of one recorded host-code call, or None where the
    call did anything a replay would not repeat (see the module docstring)."""
    if not launches or any(launch.direct is None for launch in launches):
        return None
    # id(tensor) -> (tensor it comes from: an input or an allocation, its source)
    roots: dict[int, tuple[torch.Tensor, _Source]] = {}
    for i, arg in enumerate(args):
        if isinstance(arg, torch.Tensor):
            if id(arg) in roots:
                # One tensor passed twice: a later call of the same signature
                # may pass two tensors there, which a replay could not tell apart.
                return None
            roots[id(arg)] = (arg, (False, i))
    allocations: list[tuple[tuple[int, ...], tuple[int, ...], torch.dtype, torch.device]] = []
    for op in operations:
        if op.kind == "allocation" and isinstance(op.result, torch.Tensor):
            t = op.result
            roots[id(t)] = (t, (True, len(allocations)))
            allocations.append((tuple(t.shape), tuple(t.stride()), t.dtype, t.device))
        elif op.kind == "view" and op.source is not None and id(op.source) in roots:
            viewed = roots[id(op.source)]
            for view in op.results():
                roots[id(view)] = viewed
        else:
            return None
    replay_launches = []
    for launch in launches:
        constants: list[object] = []
        pointers = []
        for position, value in enumerate(launch.args):
            if isinstance(value, torch.Tensor):
                if id(value) not in roots:
                    return None
                root, (from_allocation, index) = roots[id(value)]
                pointers.append(_Pointer(position, from_allocation, index, value.data_ptr() - root.data_ptr()))
                constants.append(None)
            elif type(value) in _SCALARS:
                constants.append(value)
            else:
                return None
        grid = (*launch.grid, 1, 1)[:3]
        direct, function, head = launch.direct  # type: ignore[misc]
        replay_launches.append(_Launch(direct, function, head, grid, tuple(constants), tuple(pointers)))  # type: ignore[arg-type]
    shape = _result_shape(result, roots)
    if shape is False:
        return None
    return Replay(allocations, replay_launches, shape, stream, len(args))  # type: ignore[arg-type]


def _result_shape(result: Any, roots: dict[int, tuple[torch.Tensor, _Source]]) -> _ResultShape | bool:
    """How to rebuild ``result`` from inputs and allocations; False where it
    holds anything else (a view, a tensor from elsewhere, a scalar)."""

    def source(value: Any) -> _Source | None:
        # A root itself or an alias of all of it (under the recording's
        # dispatch mode a factory's result reaches the caller through
        # ``detach``), never a part of it: a replay returns roots.
        if not isinstance(value, torch.Tensor) or id(value) not in roots:
            return None
        root, found = roots[id(value)]
        whole = value is root or (
            value.data_ptr() == root.data_ptr()
            and value.shape == root.shape
            and value.stride() == root.stride()
            and value.dtype == root.dtype
        )
        return found if whole else None

    if result is None:
        return None
    if isinstance(result, torch.Tensor):
        found = source(result)
        return False if found is None else found
    if type(result) in (tuple, list):
        items = [source(v) for v in result]
        if any(i is None for i in items):
            return False
        return (type(result), tuple(i for i in items if i is not None))
    return False
