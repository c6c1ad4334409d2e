"""``helion-ops bench``: memory bandwidth of each op against its baselines.

For each op and shape of its input generator, four contenders run on the same
tensors: ``helion`` (the registered op, called eagerly), ``torch`` (the op's
pure-PyTorch reference, eager), ``inductor`` (that reference under
``torch.compile(dynamic=False)``) and ``liger`` (Liger-Kernel's kernel for the
op, where it has one and is installed). The ``inductor`` row's ``config``
records the launch configs Inductor's own autotuning kept for its Triton
kernels (its time at one shape has differed by 1.4x between runs).

Timing (how a call is timed, and the copy ceiling's copies): ``_timing``.

Bytes moved by one call: every tensor argument read once, every returned
tensor written once, and every argument the op writes in place written once.
The in-place arguments are the op's custom-op schema (``wrapper.prepared``:
declared ``mutates_args`` or inferred from the kernel's source), the same
record that torch.compile relies on for correctness; a returned tensor that
shares storage with an argument is that argument's write, not a new output.
Reading values (comparing an input before and after a call) would miss an
in-place write that happens to store the same values.

The copy ceiling is a device-to-device copy of a 1 GiB buffer, measured in the
same run, counted as bytes read plus bytes written. Each shape also times a
copy moving its own byte count (contender ``copy``, timed like the others):
below a few hundred MB a copy itself stays under the 1 GiB ceiling (on an
H200, copies moving 100-170 MB: 85-94% of it), which the percentages alone hide.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import importlib.metadata
import inspect
import json
import platform as _platform_module
import statistics
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from helion_ops import dynamo_bridge

from ._cli_errors import OutputPathError
from ._compare import Expected, clone_args, compare_to_expected, expected_results, flatten_results, tolerance_for
from ._timing import copy_times, time_ms, timing_method

if TYPE_CHECKING:
    from ._wrapper import HelionKernelWrapper

DTYPES: dict[str, torch.dtype] = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
SAME_SIZE_COPY = "copy"  # not a baseline: what a copy of the shape's bytes achieves
CONTENDERS = ("helion", "torch", "inductor", "liger", SAME_SIZE_COPY)
OURS = "helion"
BASELINES = ("inductor", "liger")

Prepare = Callable[[tuple[Any, ...]], Callable[[], Any]]


# ---------------------------------------------------------------- bytes accounting


def mutated_positions(wrapper: HelionKernelWrapper) -> tuple[int, ...]:
    """Positions of the arguments the op writes in place, from its custom-op schema."""
    params = list(inspect.signature(wrapper.raw_kernel_func).parameters)
    return tuple(params.index(name) for name in wrapper.prepared.mutated_args if name in params)


def _storage_key(t: torch.Tensor) -> tuple[str, int]:
    ptr = t.untyped_storage().data_ptr() if t.device.type != "meta" else 0
    # Meta tensors have no storage address: tell them apart by identity.
    return (str(t.device), ptr if ptr else -id(t))


def _nbytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


def bytes_moved(args: Sequence[Any], outputs: Any, mutated: Iterable[int]) -> int:
    """Bytes one call reads and writes (see the module docstring for the rule)."""
    read: dict[tuple[str, int], int] = {}
    arg_keys: dict[tuple[str, int], int] = {}
    for a in args:
        if isinstance(a, torch.Tensor):
            key = _storage_key(a)
            read[key] = max(read.get(key, 0), _nbytes(a))
            arg_keys[key] = max(arg_keys.get(key, 0), _nbytes(a))
    written: dict[tuple[str, int], int] = {}
    for i in mutated:
        a = args[i]
        if isinstance(a, torch.Tensor):
            written[_storage_key(a)] = _nbytes(a)
    fresh = 0
    for out in flatten_results(outputs):
        if out is None:
            continue
        key = _storage_key(out)
        if key in arg_keys:  # an input returned (in place): its write, counted once
            written[key] = max(written.get(key, 0), _nbytes(out))
        else:
            fresh += _nbytes(out)
    return sum(read.values()) + sum(written.values()) + fresh


# ---------------------------------------------------------------- contenders


@dataclasses.dataclass(frozen=True)
class Contender:
    """``prepare(args)`` returns the zero-argument call that is timed (None: not available, see ``note``).
    ``check_args``: compare the arguments after the call too (False where the contender
    returns its result instead of writing an out-argument)."""

    name: str
    prepare: Prepare | None
    note: str = ""
    check_args: bool = True


def _bound(wrapper: HelionKernelWrapper, args: tuple[Any, ...]) -> dict[str, Any]:
    bound = inspect.signature(wrapper.raw_kernel_func).bind(*args)
    bound.apply_defaults()
    return dict(bound.arguments)


def _liger_rms_norm(wrapper: HelionKernelWrapper) -> Prepare:
    from liger_kernel.ops.rms_norm import LigerRMSNormFunction

    def prepare(args: tuple[Any, ...]) -> Callable[[], Any]:
        named = _bound(wrapper, args)
        x, weight, eps = named["x"], named["weight"], float(named["eps"])
        # casting_mode "gemma": everything in float32, one rounding at the end,
        # as our kernel and the reference compute.
        return lambda: LigerRMSNormFunction.apply(x, weight, eps, 0.0, "gemma", False)

    return prepare


def _liger_silu_and_mul(wrapper: HelionKernelWrapper) -> Prepare:
    import liger_kernel.ops.swiglu as swiglu

    fused = getattr(swiglu, "LigerFusedGateUpSiLUMulFunction", None)

    def prepare(args: tuple[Any, ...]) -> Callable[[], Any]:
        named = _bound(wrapper, args)
        x = named.get("x", named.get("input"))
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"expected the gate-up tensor as argument 'x' or 'input', found {sorted(named)}")
        if fused is not None:
            # Liger's kernel for the [..., 2d] gate-up layout: reads x as it is, like ours.
            return lambda: fused.apply(x)
        # Older Liger: halves as separate contiguous tensors, made here, outside
        # the timed call (splitting inside it would time two extra copies).
        d = x.shape[-1] // 2
        a, b = x[..., :d].contiguous(), x[..., d:].contiguous()
        return lambda: swiglu.LigerSiLUMulFunction.apply(a, b)

    return prepare


LIGER_ADAPTERS: dict[str, Callable[[HelionKernelWrapper], Prepare]] = {
    "rms_norm": _liger_rms_norm,
    "silu_and_mul": _liger_silu_and_mul,
}


def liger_contender(wrapper: HelionKernelWrapper) -> Contender:
    adapter = LIGER_ADAPTERS.get(wrapper.op_name)
    if adapter is None:
        return Contender("liger", None, "Liger-Kernel has no kernel for this op")
    try:
        prepare = adapter(wrapper)
    except ImportError:
        return Contender("liger", None, "liger_kernel is not installed (pip install liger-kernel)")
    return Contender("liger", prepare, "", check_args=False)


def build_contenders(wrapper: HelionKernelWrapper) -> list[Contender]:
    reference = wrapper.reference

    def ours(args: tuple[Any, ...]) -> Callable[[], Any]:
        return lambda: wrapper(*args)

    contenders = [Contender(OURS, ours)]
    if reference is None:
        missing = "the op has no pure-PyTorch reference"
        contenders += [Contender("torch", None, missing), Contender("inductor", None, missing)]
    else:

        def eager(args: tuple[Any, ...]) -> Callable[[], Any]:
            return lambda: reference(*args)

        def inductor(args: tuple[Any, ...]) -> Callable[[], Any]:
            compiled = torch.compile(reference, dynamic=False)
            return lambda: compiled(*args)

        contenders += [Contender("torch", eager), Contender("inductor", inductor)]
    contenders.append(liger_contender(wrapper))
    return contenders


# ---------------------------------------------------------------- measurements


@dataclasses.dataclass(frozen=True)
class Measurement:
    """One (op, shape, contender). ``ms`` None: not run (``note`` says why)."""

    op: str
    shape: str
    contender: str
    method: str
    nbytes: int
    ms: float | None
    max_abs_err: float | None = None
    close: bool | None = None
    note: str = ""
    # helion: the stored config key the op used for this shape (and how it matched);
    # inductor: the launch configs its autotuning kept for each Triton kernel.
    config: str = ""
    # With repeats > 1: max/min - 1 over the repeated timings (the run's noise for this row).
    spread: float | None = None

    @property
    def tbps(self) -> float | None:
        return tbps(self.nbytes, self.ms)


def tbps(nbytes: int, ms: float | None) -> float | None:
    if ms is None or ms <= 0:
        return None
    return nbytes / (ms * 1e-3) / 1e12


def best_baseline(group: Sequence[Measurement]) -> Measurement | None:
    """The faster of Inductor and Liger among those that ran."""
    ran = [m for m in group if m.contender in BASELINES and m.ms is not None]
    return min(ran, key=lambda m: m.ms or 0.0) if ran else None


def speedup(m: Measurement, group: Sequence[Measurement]) -> float | None:
    """Best baseline's time / this contender's time (> 1: faster than the best baseline)."""
    best = best_baseline(group)
    if best is None or best.ms is None or m.ms is None or m.ms <= 0:
        return None
    return best.ms / m.ms


def group_by_shape(measurements: Iterable[Measurement]) -> dict[tuple[str, str], list[Measurement]]:
    groups: dict[tuple[str, str], list[Measurement]] = {}
    for m in measurements:
        groups.setdefault((m.op, m.shape), []).append(m)
    return groups


def _cell(m: Measurement | None, ceiling: float) -> str:
    if m is None or m.ms is None:
        return "n/a" if m is None or not m.note.startswith("failed") else "error"
    value = m.tbps or 0.0
    flag = "" if m.close is not False else " !"
    return f"{value:.2f} ({100 * value / ceiling:.0f}%){flag}"


def table_rows(measurements: Sequence[Measurement], ceiling: float) -> tuple[list[str], list[list[str]]]:
    """Columns and rows of the bench table: one row per (op, shape), TB/s (% of the copy ceiling) per contender."""
    columns = ["op", "shape", "timing", "MB", "config", *[f"{c} TB/s" for c in CONTENDERS], "speed-up"]
    rows: list[list[str]] = []
    for (op, shape), group in group_by_shape(measurements).items():
        by_name = {m.contender: m for m in group}
        ours = by_name.get(OURS)
        best = best_baseline(group)
        gain = speedup(ours, group) if ours is not None else None
        gain_text = f"{gain:.2f}x vs {best.contender}" if gain is not None and best is not None else "n/a"
        first = group[0]
        rows.append(
            [
                op,
                shape,
                first.method,
                f"{first.nbytes / 1e6:.2f}",
                ours.config if ours is not None else "",
                *[_cell(by_name.get(c), ceiling) for c in CONTENDERS],
                gain_text,
            ]
        )
    return columns, rows


def environment() -> dict[str, Any]:
    """Device and versions, copied into every JSON record."""

    def version(dist: str) -> str | None:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            return None

    from ._platform import current_platform

    return {
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
        "platform": current_platform(),
        "torch": torch.__version__,
        "triton": version("triton"),
        "helion": version("helion"),
        "helion_ops_core": version("helion-ops-core"),
        "liger_kernel": version("liger-kernel"),
        "python": _platform_module.python_version(),
    }


def json_records(
    measurements: Sequence[Measurement], ceiling: float, env: Mapping[str, Any], dtype: str | None
) -> list[dict[str, Any]]:
    """One record per (op, shape, contender), each carrying the device, versions and copy ceiling."""
    stamp = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    groups = group_by_shape(measurements)
    records = []
    for m in measurements:
        group = groups[(m.op, m.shape)]
        best = best_baseline(group)
        rate = m.tbps
        gain = speedup(m, group)
        records.append(
            {
                "op": m.op,
                "shape": m.shape,
                "contender": m.contender,
                "dtype": dtype,
                "method": m.method,
                "bytes": m.nbytes,
                "ms": m.ms,
                "tbps": rate,
                "pct_of_copy_ceiling": None if rate is None else 100 * rate / ceiling,
                "speedup_vs_best_baseline": gain,
                "best_baseline": best.contender if best is not None else None,
                "max_abs_err": m.max_abs_err,
                "matches_reference": m.close,
                "config": m.config,
                "spread": m.spread,
                "note": m.note,
                "copy_ceiling_tbps": ceiling,
                "timestamp": stamp,
                **env,
            }
        )
    return records


def write_json(path: str | Path, records: Sequence[Mapping[str, Any]]) -> None:
    try:
        Path(path).write_text(json.dumps(list(records), indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise OutputPathError(f"--json {str(path)!r}: cannot write the results ({exc.strerror or exc})") from exc


# ---------------------------------------------------------------- measuring


def _spread(times: Sequence[float]) -> float | None:
    """max/min - 1 of repeated timings (None for a single one): the run's own noise."""
    return max(times) / min(times) - 1 if len(times) > 1 and min(times) > 0 else None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


def measure_shape(
    wrapper: HelionKernelWrapper,
    shape: str,
    args: tuple[Any, ...],
    contenders: Sequence[Contender],
    config: str,
    repeats: int = 1,
) -> list[Measurement]:
    """Check each contender against the reference, then time it ``repeats``
    times (the median counts, the spread is recorded); failures become notes, not crashes."""
    method = timing_method(shape, args)
    mutated = mutated_positions(wrapper)
    with torch.no_grad():
        nbytes = bytes_moved(args, wrapper(*clone_args(args)), mutated)
        # Each shape compiles its own Inductor graph: without a reset the
        # recompile limit would silently send later shapes to eager.
        torch._dynamo.reset()
        atol, rtol = tolerance_for(args)
        expected = _expected(wrapper, args)
        out: list[Measurement] = []
        for c in contenders:
            cfg = config if c.name == OURS else ""
            if c.prepare is None:
                out.append(Measurement(wrapper.op_name, shape, c.name, method, nbytes, None, note=c.note, config=cfg))
                continue
            try:
                # Inductor's config is the launch configs its own autotuning
                # kept at the first call (inside _check): between runs its
                # time at one shape has moved by 1.4x (docs/benchmarks.md),
                # and the record says which kernel it was.
                with _inductor_launches(c.name) as launches:
                    err, close = _check(wrapper, c, args, expected, atol, rtol)
                    # Timed on its own copy: an in-place op's timed calls (the
                    # residual of fused_add_rms_norm, rotary's q and k) would
                    # otherwise change the arguments the next contender is checked
                    # on against the reference computed once from the originals.
                    call = c.prepare(clone_args(args))
                    times = [time_ms(call, method) for _ in range(repeats)]
                cfg = cfg or "; ".join(launches)
            except Exception as exc:  # one contender failing must not lose the others' numbers
                out.append(
                    Measurement(
                        wrapper.op_name,
                        shape,
                        c.name,
                        method,
                        nbytes,
                        None,
                        note=f"failed: {_first_line(exc)}",
                        config=cfg,
                    )
                )
                continue
            ms = statistics.median(times)
            out.append(
                Measurement(wrapper.op_name, shape, c.name, method, nbytes, ms, err, close, c.note, cfg, _spread(times))
            )
        device = next((a.device for a in args if isinstance(a, torch.Tensor)), None)
        if device is not None and device.type == "cuda":
            out.append(_same_size_copy(wrapper.op_name, shape, method, nbytes, repeats, device))
    return out


def _inductor_launches(contender: str) -> contextlib.AbstractContextManager[list[str]]:
    """For the ``inductor`` contender, the bridge's record of the Triton launch
    configs Inductor loads in the block; for the others an empty list."""
    if contender == "inductor":
        return dynamo_bridge.recorded_inductor_launches()
    return contextlib.nullcontext([])


def _same_size_copy(op: str, shape: str, method: str, nbytes: int, repeats: int, device: torch.device) -> Measurement:
    """A device-to-device copy moving ``nbytes`` (half read, half written), timed as the shape's contenders."""
    half = max(1, nbytes // 2)
    times = copy_times(half, repeats, method, device)
    note = "device-to-device copy of the same bytes (context, not a baseline)"
    return Measurement(op, shape, SAME_SIZE_COPY, method, 2 * half, statistics.median(times), note=note, spread=_spread(times))


def _expected(wrapper: HelionKernelWrapper, args: tuple[Any, ...]) -> Expected | Exception | None:
    """The reference's results on ``args``, once per shape for every contender's
    check (None without a reference; the exception where the reference raised,
    so that each contender checked reports it, as when each ran the reference)."""
    if wrapper.reference is None:
        return None
    try:
        return expected_results(wrapper.reference, args)
    except Exception as exc:
        return exc


def _check(
    wrapper: HelionKernelWrapper,
    c: Contender,
    args: tuple[Any, ...],
    expected: Expected | Exception | None,
    atol: float,
    rtol: float,
) -> tuple[float, bool]:
    if c.name == "torch" or expected is None or c.prepare is None:
        return 0.0, True
    if isinstance(expected, Exception):
        raise expected
    prepare = c.prepare
    result = compare_to_expected(
        lambda *mine: prepare(mine)(),
        args,
        expected,
        f"op {wrapper.op_name!r} ({c.name})",
        atol=atol,
        rtol=rtol,
        check_args=c.check_args,
    )
    return result.max_abs, result.close


def run_bench(
    plans: Sequence[tuple[HelionKernelWrapper, Callable[[], Mapping[str, tuple[Any, ...]]]]],
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
    repeats: int = 1,
) -> list[Measurement]:
    """Measure every (op, shape), each contender timed ``repeats`` times. ``plans``: each op with a
    function making its shapes on the GPU (called when the op's turn comes, so one op's tensors are
    freed before the next op's are made)."""
    from ._coverage import shape_coverage

    results: list[Measurement] = []
    for wrapper, make_shapes in plans:
        contenders = build_contenders(wrapper)
        shapes = make_shapes()
        for shape, args in shapes.items():
            log(f"bench {wrapper.op_name} {shape}")
            cov = shape_coverage(wrapper, shape, args)
            entry = wrapper.configured.entries.get(cov.selected_key)
            # Which of the op's kernels ran, where it is not the op's own function.
            variant = f", variant {entry.variant}" if entry is not None and entry.variant else ""
            config = f"{cov.selected_key} ({cov.match.value}{variant})"
            results.extend(measure_shape(wrapper, shape, args, contenders, config, repeats))
        del shapes
        torch.cuda.empty_cache()
    return results
