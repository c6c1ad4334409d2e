"""``helion-ops autotune OP|--all``: tune configs offline and write the JSON files that ship.

_cli.py adds the subcommand with ``add_arguments`` and calls ``run``, whose
errors (HelionOpsError subclasses) _cli turns into one line and an exit code.
Also runnable alone: ``python -m helion_ops.core._autotune_cli OP ...``.

Where the configs go (``--out``): the first directory of
``$HELION_OPS_CONFIG_DIR`` when set (ops read their user configs from there,
so the tuned entries are used at once), else ``./helion-ops-configs``; copy
``<out>/<op>/<platform>.json`` into a kernel package's ``configs/`` to ship it.
Each entry autotune writes carries its provenance (``_provenance``).

Importing this module must stay cheap (no torch): ``helion-ops --help`` builds
the parser with ``add_arguments``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ._autotune import (
    AUTOTUNER_ENV_VAR,
    DEFAULT_EFFORT,
    DEFAULT_RETRIES,
    EFFORTS,
    Job,
    ResultWriter,
    autotune_sequential,
    cuda_available,
    default_out_dir,
    plan_jobs,
    stand_in_autotuner,
)
from ._autotune_report import make_reporter, print_summary
from ._cli_errors import CliUsageError, NoGPUError
from ._config_store import CONFIG_DIR_ENV_VAR, check_name
from ._errors import ConfigPathError

if TYPE_CHECKING:
    from ._wrapper import HelionKernelWrapper

PROG = "helion-ops autotune"
EXIT_FAILED_JOBS = 1


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, found {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, found {value}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, found {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, found {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, found {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, found {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``helion-ops autotune``."""
    parser.description = (
        "Run Helion's autotuner ahead of time over an op's input-generator shapes and write the configs "
        "(vLLM's <out>/<op>/<platform>.json; each entry also carries its provenance: versions, GPU, date, "
        "tuned and default times). Each shape is written atomically as soon as it is tuned, so --resume "
        "after a crash or kill redoes at most the shapes in progress."
    )
    parser.add_argument("ops", nargs="*", metavar="OP", help="ops to tune (see `helion-ops list`), or --all")
    parser.add_argument("--all", action="store_true", help="tune every registered op that has an input generator")
    parser.add_argument("--platform", help="platform name of the configs (default: this GPU's canonical name)")
    parser.add_argument(
        "--effort",
        choices=EFFORTS,
        default=DEFAULT_EFFORT,
        help=(
            f"Helion's autotune effort (default {DEFAULT_EFFORT}; 'none' writes Helion's default config; "
            "'sweep' checks the op's candidate configs and the configs stored already against its reference "
            "and times each; 'stored' does so for the stored configs alone: this key's entry on every platform "
            "and what the op picks on this one today, a re-choice in seconds per shape)"
        ),
    )
    parser.add_argument(
        "--budget-seconds", type=positive_int, metavar="N", help="Helion's time budget per shape (autotune_budget_seconds), shared by an op's kernel variants"
    )
    parser.add_argument(
        "--shapes",
        nargs="+",
        action="extend",
        metavar="SPEC",
        help="only the shapes matching any SPEC, e.g. numtokens=8 or hidden=4096,numtokens=8 (default: all)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print the jobs (op, config key, shape) and exit without tuning"
    )
    parser.add_argument("--resume", action="store_true", help="skip shapes whose key an earlier autotune run wrote to --out")
    parser.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help=f"config directory to write (default: first entry of ${CONFIG_DIR_ENV_VAR}, else ./helion-ops-configs)",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--gpus", metavar="N|all", help="one worker process per local GPU, N of them or all (default: this process only)"
    )
    where.add_argument(
        "--ray",
        nargs="?",
        const="",
        metavar="ADDRESS",
        help="run the jobs as Ray tasks, one GPU each: a local Ray instance, or the cluster at ADDRESS "
        "(auto, host:port or ray://host:port; needs helion-ops-core[ray]). Name the ops before --ray",
    )
    parser.add_argument(
        "--retries",
        type=_non_negative_int,
        default=DEFAULT_RETRIES,
        metavar="N",
        help=f"retries of a failed job, on another worker where there is one (default {DEFAULT_RETRIES})",
    )
    parser.add_argument(
        "--job-timeout",
        type=_positive_float,
        metavar="SECONDS",
        help="with --gpus: kill a worker whose job runs longer (its start-up not counted) and retry the job elsewhere",
    )
    parser.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MODULE",
        help="import MODULE first: kernels registered by modules that are not installed as entry points",
    )
    parser.epilog = (
        f"Testing hook: {AUTOTUNER_ENV_VAR}=module:function replaces Helion's autotuner by a deterministic "
        "stand-in (runs on CPU; --gpus N then simulates N workers). Exit status: 0 all tuned, 1 a job failed "
        "or an error, 2 usage, 3 no GPU or Ray missing (--ray), 130 interrupted."
    )


def _wrappers(args: argparse.Namespace) -> list[HelionKernelWrapper]:
    from ._cli import select_ops

    for module in args.imports:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise CliUsageError(f"--import {module}: cannot import it ({exc})") from None
    return select_ops(args.ops, args.all, "autotune")


def _check_ray_address(address: str) -> None:
    # An op named after --ray is taken as its ADDRESS by argparse: say so.
    if address and address != "auto" and ":" not in address:
        raise CliUsageError(
            f"--ray {address!r}: expected a Ray address (auto, host:port or ray://host:port); "
            f"to start a local Ray instance put the ops first: `{PROG} OP --ray`"
        )


def _no_gpu(why: str) -> NoGPUError:
    return NoGPUError(
        f"`{PROG}` {why}: no CUDA GPU is usable here. Run it on the GPU the configs are for "
        f"(the CPU-only stand-in for tests is {AUTOTUNER_ENV_VAR}=module:function)"
    )


def _platform(args: argparse.Namespace, stand_in: bool) -> str:
    from ._platform import current_platform

    if args.platform is not None:
        try:
            platform = check_name("platform", args.platform)
        except ConfigPathError as exc:
            raise CliUsageError(f"--platform: {exc}") from None
        if not stand_in and cuda_available() and args.ray is None and platform != current_platform():
            raise CliUsageError(
                f"--platform {platform}: this GPU is platform {current_platform()!r}; configs are tuned on the GPU "
                "they are for (leave out --platform, or run on that GPU)"
            )
        return platform
    if args.ray and not cuda_available() and not stand_in:
        raise CliUsageError("--ray ADDRESS from a machine without a GPU: pass --platform, the cluster GPUs' platform")
    return current_platform()


def run(args: argparse.Namespace) -> int:
    """``helion-ops autotune``: 0 when every job was tuned, 1 when one failed; errors are raised."""
    from ._cli import check_writable

    if args.ray is not None:
        _check_ray_address(args.ray)
    stand_in = stand_in_autotuner() is not None
    wrappers = _wrappers(args)
    if not stand_in and not cuda_available() and not args.ray and not args.dry_run:
        raise _no_gpu("tunes kernels on a CUDA GPU")
    gpus: list[str] | None = None
    if args.gpus is not None:
        from ._autotune_parallel import resolve_gpus

        gpus = resolve_gpus(args.gpus, stand_in_active=stand_in)
    if args.job_timeout is not None and gpus is None:
        raise CliUsageError("--job-timeout needs --gpus (a job in this process cannot be stopped from outside)")
    if args.ray is not None:
        from ._autotune_ray import import_ray

        import_ray()  # fail now, before any planning, when Ray is missing
    platform = _platform(args, stand_in)
    out_dir = args.out if args.out is not None else default_out_dir()
    check_writable("--out", out_dir, may_be_directory=True)
    plan = plan_jobs(
        wrappers,
        specs=args.shapes,
        platform=platform,
        effort=args.effort,
        out_dir=out_dir,
        budget_seconds=args.budget_seconds,
        resume=args.resume,
    )
    for note in plan.notes:
        print(f"{PROG}: {note}", file=sys.stderr)
    if plan.skipped:
        print(f"{PROG}: {len(plan.skipped)} job(s) tuned before, skipped (--resume)", file=sys.stderr)
    if not plan.jobs:
        print(f"{PROG}: nothing to tune; configs in {out_dir}")
        return 0
    if args.dry_run:
        print_plan(plan.jobs, platform, out_dir)
        return 0
    writer = ResultWriter(out_dir)
    reporter = make_reporter()
    try:
        if gpus is not None:
            from ._autotune_parallel import autotune_parallel

            results = autotune_parallel(
                plan.jobs, writer, reporter, gpus=gpus, retries=args.retries, job_timeout=args.job_timeout
            )
        elif args.ray is not None:
            from ._autotune_ray import autotune_ray

            results = autotune_ray(plan.jobs, writer, reporter, address=args.ray or None, retries=args.retries)
        else:
            results = autotune_sequential(plan.jobs, writer, reporter, retries=args.retries)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; tuned shapes are saved in {out_dir}: run again with --resume", file=sys.stderr)
        raise
    print_summary(results, plan.skipped, out_dir)
    return EXIT_FAILED_JOBS if any(not r.ok for r in results) else 0


def print_plan(jobs: Sequence[Job], platform: str, out_dir: Path) -> None:
    from ._table import print_table

    rows = [[j.op, j.key_id, j.shape, str(len(j.also_covers)), f"{j.nbytes / 1e6:.1f}"] for j in jobs]
    print_table(
        f"{len(jobs)} job(s) for platform {platform}, largest inputs first in --gpus/--ray runs; would write to {out_dir}",
        ["op", "key", "tuned on shape", "other shapes", "input MB"],
        rows,
    )


def main(argv: Sequence[str] | None = None) -> int:
    from ._cli import main as cli_main

    return cli_main(["autotune", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
