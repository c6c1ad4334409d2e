"""The ``helion-ops`` command: demo, list, doctor, bench, autotune, merge.

Kernel packages contribute ops through the ``helion_ops.kernels`` entry point.
Every error the command expects (a bad option, an unknown op, a bad
``--shapes`` spec, no GPU, an unwritable output path) ends in one line on
stderr and a non-zero exit, without a traceback: ``exit_code_for`` is the one
place that maps errors to exit codes.

Exit codes: 0 success; 1 a failure while working (a demo check failed, our op
failed in bench, any other helion-ops error); 2 a usage error (bad arguments,
unknown op, bad shape spec, unwritable output path); 3 this machine cannot do
it (no CUDA GPU, a missing optional package); 130 interrupted.

Start-up cost: this module and the parser import neither torch nor helion
(``helion-ops --help`` answers at once); each command imports what it needs.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from ._cli_errors import CliUsageError, MissingDependencyError, NoGPUError, OutputPathError
from ._errors import HelionOpsError, UnknownOpError
from ._shapes import ShapeSpecError

if TYPE_CHECKING:
    from ._wrapper import HelionKernelWrapper

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3
EXIT_INTERRUPTED = 130

# First match wins: the specific classes before their bases.
_EXIT_CODES: tuple[tuple[type[BaseException], int], ...] = (
    (CliUsageError, EXIT_USAGE),
    (UnknownOpError, EXIT_USAGE),
    (ShapeSpecError, EXIT_USAGE),
    (OutputPathError, EXIT_USAGE),
    (NoGPUError, EXIT_UNAVAILABLE),
    (MissingDependencyError, EXIT_UNAVAILABLE),
    (HelionOpsError, EXIT_FAILURE),
)
PLOT_SUFFIXES = (".png", ".svg", ".pdf")
# Options naming a file the command writes; 'out' may also name a directory.
_OUTPUT_OPTIONS = (("json", "--json", False), ("plot", "--plot", False), ("out", "--out", True))


def exit_code_for(exc: BaseException) -> int | None:
    """The exit code of an expected error; None for anything else (a bug: let its traceback show)."""
    for cls, code in _EXIT_CODES:
        if isinstance(exc, cls):
            return code
    # The bridge's errors, without importing it (and torch) here: if one was
    # raised, the bridge is loaded.
    bridge = sys.modules.get("helion_ops.dynamo_bridge")
    bridge_error = getattr(bridge, "BridgeError", None)
    if isinstance(bridge_error, type) and isinstance(exc, bridge_error):
        return EXIT_FAILURE
    return None


def one_line(exc: BaseException) -> str:
    return " ".join(part.strip() for part in str(exc).splitlines() if part.strip()) or type(exc).__name__


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors raised as CliUsageError (one line, exit code 2) instead of printing usage."""

    def error(self, message: str) -> NoReturn:
        raise CliUsageError(f"{self.prog}: {message} (see `{self.prog} --help`)")


# ---------------------------------------------------------------- shared checks


def _load() -> dict[str, HelionKernelWrapper]:
    from . import _registry

    _registry.load_entry_points()
    return _registry.registered_kernels()


def select_ops(
    names: Sequence[str], all_ops: bool, command: str, *, default_all: bool = False
) -> list[HelionKernelWrapper]:
    """The wrappers named (UnknownOpError suggests close names), or every op for --all."""
    from ._registry import get_kernel

    kernels = _load()
    if all_ops and names:
        raise CliUsageError(f"helion-ops {command}: name ops or pass --all, not both")
    if not kernels:
        raise CliUsageError(
            "no ops are registered: install helion-ops-kernels (or a package declaring the helion_ops.kernels entry point)"
        )
    if all_ops or (default_all and not names):
        return list(kernels.values())
    if not names:
        raise CliUsageError(f"helion-ops {command}: name an op ({', '.join(kernels)}) or pass --all")
    return [get_kernel(name) for name in dict.fromkeys(names)]


def require_gpu(command: str) -> None:
    import torch

    if torch.cuda.is_available():
        return
    why = "this torch is a CPU-only build" if torch.version.cuda is None else "torch.cuda.is_available() is False"
    raise NoGPUError(
        f"`helion-ops {command}` runs on a CUDA GPU and none is usable here ({why}; torch {torch.__version__}). "
        "Run it on a GPU machine; `helion-ops demo` runs on CPU with TRITON_INTERPRET=1."
    )


def check_writable(option: str, path: Path, *, may_be_directory: bool) -> None:
    """Fail before any work if ``path`` cannot be written (by creating and removing a file where it goes).

    ``may_be_directory``: ``path`` is a directory that is created if missing,
    so its nearest existing ancestor must be a writable directory.
    """
    shown = str(path)
    if path.is_dir() and not may_be_directory:
        raise OutputPathError(f"{option} {shown!r} is a directory; give a file name")
    if path.exists() and not path.is_dir() and may_be_directory:
        raise OutputPathError(f"{option} {shown!r} is a file; give a directory")
    directory = path if may_be_directory else path.parent
    while may_be_directory and not directory.exists() and directory != directory.parent:
        directory = directory.parent
    if not directory.is_dir():
        raise OutputPathError(
            f"{option} {shown!r}: {str(directory)!r} does not exist or is not a directory; "
            "create the directory first or choose another path"
        )
    try:
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as exc:
        raise OutputPathError(
            f"{option} {shown!r}: cannot write in {str(directory)!r} ({exc.strerror or exc}); "
            "choose a writable directory"
        ) from exc
    if path.is_file() and not os.access(path, os.W_OK):
        raise OutputPathError(f"{option} {shown!r}: the file exists and is not writable")


def check_output_paths(args: argparse.Namespace) -> None:
    for attr, option, may_be_directory in _OUTPUT_OPTIONS:
        value = getattr(args, attr, None)
        if value:
            check_writable(option, Path(value), may_be_directory=may_be_directory)
    plot = getattr(args, "plot", None)
    if plot and Path(plot).suffix.lower() not in PLOT_SUFFIXES:
        raise CliUsageError(f"--plot {plot!r}: expected a file ending in {', '.join(PLOT_SUFFIXES)}")


# ---------------------------------------------------------------- subcommands


def cmd_list(_args: argparse.Namespace) -> int:
    from ._coverage import meta_inputs
    from ._table import print_table

    rows = []
    for name, wrapper in _load().items():
        try:
            shapes = str(len(meta_inputs(wrapper)))
        except Exception:  # a generator that cannot run on meta: count unknown, listing goes on
            shapes = "?"
        selection = (
            f"keys {','.join(wrapper.keys)}" if wrapper.keys else "picker" if wrapper.config_picker else "default"
        )
        mutated = ", ".join(wrapper.prepared.mutated_args) or "-"
        rows.append(
            [name, wrapper.platform, str(len(wrapper.configured.entries)), selection, shapes, mutated, wrapper.module]
        )
    if not rows:
        print("no ops registered: install helion-ops-kernels")
        return EXIT_OK
    print_table(None, ["op", "platform", "configs", "selection", "shapes", "mutates", "module"], rows)
    return EXIT_OK


def cmd_doctor(_args: argparse.Namespace) -> int:
    from ._doctor import run_doctor

    return run_doctor(list(_load().values()))


def cmd_demo(args: argparse.Namespace) -> int:
    from ._demo import run_demo

    wrappers = select_ops(args.ops, False, "demo", default_all=True)
    return run_demo(wrappers, atol=args.tolerance, rtol=args.rtol)


def shape_specs_by_op(
    wrappers: Sequence[HelionKernelWrapper], specs: Sequence[str] | None
) -> dict[str, list[str] | None]:
    """Check --shapes before anything runs (on meta tensors): see ``_shapes.specs_by_op``."""
    from ._shapes import shape_names, specs_by_op

    if not specs:
        return {w.op_name: None for w in wrappers}
    return specs_by_op({w.op_name: shape_names(w) for w in wrappers}, specs, "benchmarked")


def cmd_bench(args: argparse.Namespace) -> int:
    import functools

    import torch

    from . import _bench, _timing
    from ._shapes import select_shapes
    from ._table import print_table

    wrappers = select_ops(args.ops, args.all, "bench")
    if args.all:
        skipped = [w.op_name for w in wrappers if w.input_generator is None]
        if skipped:
            print(f"helion-ops bench: skipping {', '.join(skipped)} (no input generator)", file=sys.stderr)
        wrappers = [w for w in wrappers if w.input_generator is not None]
    specs = shape_specs_by_op(wrappers, args.shapes)
    if args.plot:
        from ._bench_plot import require_matplotlib

        require_matplotlib()
    require_gpu("bench")
    dtype = _bench.DTYPES[args.dtype] if args.dtype else None
    plans = [
        (w, functools.partial(select_shapes, w, specs[w.op_name], dtype=dtype, device="cuda"))
        for w in wrappers
        if w.op_name in specs
    ]
    ceiling = _timing.copy_ceiling_tbps()
    measurements = _bench.run_bench(plans, repeats=args.repeats)
    env = _bench.environment()
    title = (
        f"helion-ops bench on {env['device']} ({env['platform']}), dtype {args.dtype or 'generator default'}: "
        f"TB/s (% of copy ceiling {ceiling:.2f} TB/s); speed-up = best of inductor/liger time / helion time"
    )
    columns, rows = _bench.table_rows(measurements, ceiling)
    print_table(title, columns, rows)
    notes = sorted({f"{m.contender}: {m.note}" for m in measurements if m.note})
    for note in notes:
        print(f"  note: {note}")
    records = _bench.json_records(measurements, ceiling, env, args.dtype)
    if args.json:
        _bench.write_json(args.json, records)
        print(f"wrote {len(records)} records to {args.json}")
    if args.plot:
        from ._bench_plot import write_bench_plot

        write_bench_plot(args.plot, records, ceiling, title=f"{env['device']}, torch {torch.__version__}")
        print(f"wrote {args.plot}")
    bad = [m for m in measurements if m.contender == _bench.OURS and (m.ms is None or m.close is False)]
    for m in bad:
        print(f"helion-ops bench: {m.op} {m.shape}: {m.note or 'results differ from the reference'}", file=sys.stderr)
    return EXIT_FAILURE if bad else EXIT_OK


def cmd_merge(args: argparse.Namespace) -> int:
    from ._merge import run_merge

    if not args.dry_run:  # a dry run may read a folder it cannot write (an installed package's)
        check_writable("--into", Path(args.into), may_be_directory=True)
    return run_merge(
        args.sources,
        args.into,
        ops=args.ops or (),
        platforms=args.platforms or (),
        allow_other_gpu=args.allow_other_gpu,
        dry_run=args.dry_run,
    )


def cmd_autotune(args: argparse.Namespace) -> int:
    from ._autotune_cli import run

    return run(args)


# ---------------------------------------------------------------- parser


def _add_autotune(sub: Any) -> None:
    from ._autotune_cli import add_arguments

    autotune = sub.add_parser(
        "autotune", help="tune configs on this GPU (or several, or a Ray cluster) and write them to a config directory"
    )
    add_arguments(autotune)
    autotune.set_defaults(func=cmd_autotune)


def _add_merge(sub: Any) -> None:
    merge = sub.add_parser(
        "merge",
        help="merge tuned config folders (autotune's --out of several runs) into another, such as the shipped one",
        description="Copy every <op>/<platform>.json entry of the sources into --into, per key and atomically "
        "(the destination keeps its other keys; the later source wins where several hold a key). Everything is "
        "checked before anything is written.",
    )
    merge.add_argument("sources", nargs="+", metavar="SRC", help="config folders to read (autotune's --out)")
    merge.add_argument("--into", required=True, metavar="DIR", help="the config folder to write")
    merge.add_argument("--ops", nargs="+", metavar="OP", help="merge only these ops")
    merge.add_argument("--platforms", nargs="+", metavar="PLATFORM", help="merge only these platforms (nvidia_h100, ...)")
    merge.add_argument(
        "--allow-other-gpu",
        action="store_true",
        help="merge entries whose provenance names a GPU of another platform than their file",
    )
    merge.add_argument("--dry-run", action="store_true", help="print what would change; write nothing")
    merge.set_defaults(func=cmd_merge)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="helion-ops", description="Helion kernels as PyTorch ops.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="run ops eagerly and compiled on a small shape, check them against references")
    demo.add_argument("ops", nargs="*", metavar="OP", help="ops to run (default: all)")
    demo.add_argument("--tolerance", type=float, default=5e-2, help="absolute tolerance (default 5e-2)")
    demo.add_argument("--rtol", type=float, default=1e-2, help="relative tolerance (default 1e-2)")
    demo.set_defaults(func=cmd_demo)

    sub.add_parser("list", help="list registered ops").set_defaults(func=cmd_list)
    sub.add_parser("doctor", help="versions, capabilities, platform and config coverage").set_defaults(func=cmd_doctor)

    from ._autotune_cli import positive_int

    bench = sub.add_parser(
        "bench",
        help="TB/s of ops vs torch eager, Inductor and Liger-Kernel on a CUDA GPU",
        description="Time each op and its baselines on every shape of the op's input generator "
        "(median of calls each after a read-only L2 flush; CUDA-graph replay for <= 256 tokens) and report TB/s, %% of the copy ceiling "
        "and the speed-up over the faster of Inductor and Liger-Kernel.",
    )
    bench.add_argument("ops", nargs="*", metavar="OP", help="ops to benchmark (or --all)")
    bench.add_argument("--all", action="store_true", help="benchmark every registered op")
    bench.add_argument(
        "--shapes",
        nargs="+",
        metavar="SPEC",
        help="shapes to run, as field=value specs such as numtokens=8 or hidden=4096,numtokens=8 (union of specs; default: all)",
    )
    bench.add_argument(
        "--dtype", choices=sorted(("bf16", "fp16", "fp32")), help="input dtype (default: the generator's)"
    )
    bench.add_argument(
        "--repeats",
        type=positive_int,
        default=1,
        metavar="N",
        help="time every contender N times: the median is reported and the spread (max/min - 1) recorded, "
        "the run's own noise (default 1)",
    )
    bench.add_argument("--json", metavar="FILE", help="write one JSON record per (op, shape, contender)")
    bench.add_argument(
        "--plot", metavar="FILE.png", help="write TB/s per shape as a .png, .svg or .pdf (by its suffix; needs matplotlib)"
    )
    bench.set_defaults(func=cmd_bench)

    _add_autotune(sub)
    _add_merge(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        check_output_paths(args)
        return int(args.func(args))
    except KeyboardInterrupt:
        print("helion-ops: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        code = exit_code_for(exc)
        if code is None:
            raise
        print(f"helion-ops: error: {one_line(exc)}", file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
