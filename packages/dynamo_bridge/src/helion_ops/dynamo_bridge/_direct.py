"""Eager calls that skip Helion's and Triton's per-call work.

A Helion call binds its arguments (a specialization key over every argument),
looks up the bound kernel, runs the generated host function, and that hands
each Triton kernel to Triton's ``JITFunction.run``, which binds the arguments
again to find the compiled kernel. For arguments whose every property the
compiled code may depend on is the same as a call seen before (the caller
guarantees that: see ``helion_ops.core``'s exact call signatures), all of that
gives the same answer again. ``direct_call`` returns a callable that runs the
compiled host function straight away, with a launcher that starts the Triton
kernels it already holds.

What the launcher relies on: the host function's launch arguments are
functions of the call's sizes, strides, dtypes, scalar values and pointer
alignments, so a call with the same signature hands Triton arguments with the
same specialization (``== 1`` and divisibility of integers, alignment of
pointers: outputs come from PyTorch's allocator, aligned to 512 bytes), and
the kernel Triton compiled for the first call is the right one for the next.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import _compat, _replay


class _CompiledLaunches:
    """A launcher for the calls of one signature.

    The first launch of each Triton kernel goes through Helion's launcher (so
    through Triton, which compiles or finds the kernel) and keeps the compiled
    kernel it returns; the second goes through the compiled kernel's launcher
    and learns how to call its C launch function straight away
    (``_compat.recorded_raw_launch``); later launches do that, on the current
    stream. Launches with options beyond warps and stages, and every launch
    while a profiler hook is set, keep Helion's path.
    """

    __slots__ = (
        "_compiled",
        "_fallback",
        "_raw",
        "direct_launches",
        "fallback_launches",
        "hooks_active",
        "stream",
    )

    def __init__(self) -> None:
        self._compiled: dict[object, Any] = {}
        # By id: hashing a Triton JITFunction runs Python code (its cache key);
        # the kernel itself stays alive as a key of _compiled.
        self._raw: dict[int, _compat.RawLaunch] = {}
        # Counted for benchmarks and diagnosis: which path the launches took.
        self.direct_launches = 0
        self.fallback_launches = 0
        self._fallback = _compat.helion_default_launcher()
        self.stream = _compat.current_cuda_stream()
        self.hooks_active = _compat.launch_hooks_check()

    def direct_for(self, triton_kernel: object, options: dict[str, Any]) -> _compat.RawLaunch | None:
        """How this launch would be started directly; None where it would not be."""
        if len(options) != 2 or self.hooks_active():
            return None
        return self._raw.get(id(triton_kernel))

    def __call__(self, triton_kernel: object, grid: tuple[int, ...], *args: object, **options: Any) -> object:
        raw = self.direct_for(triton_kernel, options)
        if raw is None:
            return self._first_launches(triton_kernel, grid, args, options)
        self.direct_launches += 1
        launch, function, head = raw
        dims = len(grid)
        launch(
            grid[0],
            grid[1] if dims > 1 else 1,
            grid[2] if dims > 2 else 1,
            self.stream(),
            function,
            *head,
            *args,
        )
        return None

    def _first_launches(
        self, triton_kernel: object, grid: tuple[int, ...], args: tuple[object, ...], options: dict[str, Any]
    ) -> object:
        compiled = self._compiled.get(triton_kernel)
        if compiled is None or len(options) != 2 or self.hooks_active():
            self.fallback_launches += 1
            result = self._fallback(triton_kernel, grid, *args, **options)
            if len(options) == 2 and _compat.launchable_compiled_kernel(result):
                self._compiled[triton_kernel] = result
            return result
        self.direct_launches += 1
        grid3 = (*grid, 1, 1)[:3]
        self._raw[id(triton_kernel)] = _compat.recorded_raw_launch(compiled, grid3, self.stream(), args)  # type: ignore[arg-type]
        return None


class _Plan:
    """What ``direct_call`` returns when launching directly: Helion's host
    code with a ``_CompiledLaunches``, until a recorded call of it becomes a
    ``_replay.Replay`` (host code that only allocates, takes views and
    launches); from then on the replay, except while a launch hook is set.

    The first calls record (at most ``MAX_RECORDINGS``): a replay needs every
    launch of the recorded call to be a direct one, which takes each kernel
    two launches to learn. A recording that shows anything else ends them.
    """

    __slots__ = ("_host", "_recordings", "launcher", "replay")

    def __init__(self, host: Callable[..., Any], launcher: _CompiledLaunches) -> None:
        self._host = host
        self.launcher = launcher
        self.replay: _replay.Replay | None = None
        self._recordings = 0

    def __call__(self, *args: Any) -> Any:
        replay = self.replay
        launcher = self.launcher
        if replay is not None and not launcher.hooks_active():
            launcher.direct_launches += replay.launch_count
            return replay.run(*args)
        if replay is None and self._recordings < _replay.MAX_RECORDINGS:
            return self._record(args)
        return self._host(*args, _launcher=launcher)

    def _record(self, args: tuple[Any, ...]) -> Any:
        self._recordings += 1
        launcher = self.launcher
        launches: list[_replay.RecordedLaunch] = []

        def recording_launcher(
            triton_kernel: object, grid: tuple[int, ...], *launch_args: object, **options: Any
        ) -> object:
            direct = launcher.direct_for(triton_kernel, options)
            launches.append(_replay.RecordedLaunch(triton_kernel, grid, launch_args, direct))
            return launcher(triton_kernel, grid, *launch_args, **options)

        with _compat.recorded_aten_ops() as ops:
            result = self._host(*args, _launcher=recording_launcher)
        if launches and all(launch.direct is not None for launch in launches):
            self.replay = _replay.build_replay(args, ops, launches, result, launcher.stream)
            if self.replay is None:  # the host code does more than a replay repeats
                self._recordings = _replay.MAX_RECORDINGS
        return result


def direct_call(kernel: Any, args: tuple[object, ...], *, launch_directly: bool = False) -> Callable[..., Any] | None:
    """A callable running ``kernel``'s compiled code for calls like ``args``.

    Call it only after ``kernel(*args)`` ran (that compiles), and only with
    arguments of the same signature as ``args``. None where the compiled host
    function cannot be found. The host function skips Helion's binding; with
    ``launch_directly`` its launches also skip Triton's (``_CompiledLaunches``)
    and, where its host code allows, the host code itself is replayed
    (``_Plan``). Under Triton's interpreter the launches stay Helion's
    (nothing is compiled) and the host code runs.
    """
    host = _compat.compiled_host_function(kernel, args)
    if host is None:
        return None
    host = _compat.with_plain_triton_helpers(host)
    if not launch_directly or _compat.triton_interpreter_active():
        return host
    return _Plan(host, _CompiledLaunches())
