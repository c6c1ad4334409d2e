"""Offline autotuning: jobs (op, shape), running one, and writing its result.

Production never autotunes at run time; ``helion-ops autotune`` runs Helion's
autotuner here, ahead of time, and writes the configs that ship. The work
is cut into jobs, one per config key of an op (the key the op's config
selection computes for a shape's arguments, so the entry written is the one
found again at run time). A job carries names only (op, its module, shape),
so any process can run it: this one (sequential), a worker per GPU
(``_autotune_parallel``) or a Ray task (``_autotune_ray``). Only the driver
writes, through ``ResultWriter``: after every job, the config entry with its
provenance inside (``_provenance``), merged into the store in one atomic
rename. The project's own search (``--effort sweep`` and ``stored``) is in
``_sweep``; the progress display and the closing summary in
``_autotune_report``.

Testing hook: ``HELION_OPS_AUTOTUNER=module:function`` replaces Helion's
autotuner by ``function(wrapper, args, effort) -> (config dict, tuned_ms,
default_ms)``, a deterministic fast stand-in that lets the whole path run on
CPU. It is meant for tests only; configs it writes are not tuned.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._cli_errors import AutotuneError
from ._config_entries import key_id
from ._config_store import CONFIG_DIR_ENV_VAR, ConfigStore
from ._errors import UnknownOpError
from ._provenance import make_record, tuned_entry, tuned_key_ids
from ._shapes import accepts_argument, generate_inputs, matching_names, parse_fields, specs_by_op
from ._sweep import config_origin, stored_seeds, sweep
from ._variants import variant_label

if TYPE_CHECKING:
    from ._autotune_report import Reporter
    from ._wrapper import HelionKernelWrapper

AUTOTUNER_ENV_VAR = "HELION_OPS_AUTOTUNER"
WORKER_NAME_ENV_VAR = "HELION_OPS_AUTOTUNE_WORKER"
# "sweep": the op's own candidate configs (register_kernel(tuning_configs=...)),
# the configs already stored for the job (``stored_seeds``) and the default
# config, each checked against the reference and timed (``sweep``); seconds per
# shape where Helion's searches take a minute or more. "stored": the stored
# configs and the default alone, no candidate grid and no refinement rounds:
# re-choosing on a new GPU among what other GPUs' tuning found, in a few
# seconds per shape.
OWN_EFFORTS = ("sweep", "stored")
EFFORTS = ("none", *OWN_EFFORTS, "quick", "full")
DEFAULT_EFFORT = "full"
DEFAULT_OUT_DIR = "helion-ops-configs"
DEFAULT_RETRIES = 2
# Helion's own switch; off by default here (see helion_autotune).
BENCHMARK_SUBPROCESS_ENV_VAR = "HELION_AUTOTUNE_BENCHMARK_SUBPROCESS"

StandIn = Callable[..., tuple[Mapping[str, Any], float, float]]


def default_out_dir() -> Path:
    """``$HELION_OPS_CONFIG_DIR`` (its first entry), where ops look for user configs, else ./helion-ops-configs."""
    for entry in os.environ.get(CONFIG_DIR_ENV_VAR, "").split(os.pathsep):
        if entry:
            return Path(entry)
    return Path(DEFAULT_OUT_DIR)


def stand_in_autotuner() -> tuple[str, StandIn] | None:
    """The test stand-in named by HELION_OPS_AUTOTUNER, or None when unset."""
    spec = os.environ.get(AUTOTUNER_ENV_VAR, "").strip()
    if not spec:
        return None
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise AutotuneError(
            f"{AUTOTUNER_ENV_VAR}={spec!r}: expected 'module:function' naming a test stand-in "
            "function(wrapper, args, effort) -> (config, tuned_ms, default_ms); unset it to use Helion's autotuner"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise AutotuneError(f"{AUTOTUNER_ENV_VAR}={spec!r}: cannot import {module_name!r} ({exc})") from None
    function = getattr(module, attr, None)
    if not callable(function):
        raise AutotuneError(f"{AUTOTUNER_ENV_VAR}={spec!r}: module {module_name!r} has no function {attr!r}")
    return spec, function


def cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


# ---------------------------------------------------------------- jobs


@dataclasses.dataclass(frozen=True)
class Job:
    """Tune ``op`` for one config key, on the arguments of shape ``shape``."""

    op: str
    module: str
    shape: str
    key: dict[str, int | str]
    platform: str
    effort: str
    budget_seconds: int | None = None
    nbytes: int = 0
    # Other shapes with the same key: tuned once, on ``shape``.
    also_covers: tuple[str, ...] = ()

    @property
    def key_id(self) -> str:
        return key_id(self.key)

    @property
    def job_id(self) -> str:
        return f"{self.op}/{self.platform}/{self.key_id}"

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["also_covers"] = list(self.also_covers)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Job:
        return cls(**{**data, "key": dict(data["key"]), "also_covers": tuple(data.get("also_covers", ()))})


@dataclasses.dataclass(frozen=True)
class JobResult:
    job: Job
    worker: str
    attempt: int = 1
    config: dict[str, Any] | None = None
    tuned_ms: float | None = None
    default_ms: float | None = None
    provenance: dict[str, Any] | None = None
    error: str | None = None
    seconds: float = 0.0
    # The op variant the config is for (None: the op's own function).
    variant: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.config is not None

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["job"] = self.job.to_json()
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JobResult:
        return cls(**{**data, "job": Job.from_json(data["job"])})

    @classmethod
    def failure(cls, job: Job, worker: str, attempt: int, error: str, seconds: float = 0.0) -> JobResult:
        return cls(job=job, worker=worker, attempt=attempt, error=error, seconds=seconds)


@dataclasses.dataclass
class Plan:
    jobs: list[Job]
    # Jobs a previous autotune run finished (--resume).
    skipped: list[Job]
    # Ops left out, with why (no input generator, --shapes matching none of its shapes with --all).
    notes: list[str]


def _tensor_bytes(args: Sequence[Any]) -> int:
    import torch

    return sum(a.numel() * a.element_size() for a in args if isinstance(a, torch.Tensor))


def _key_from_shape_name(shape: str) -> dict[str, int | str]:
    """``"intermediate=4096,numtokens=8"`` -> ``{"intermediate": 4096, "numtokens": 8}`` ({} if not of that form)."""
    return {f: int(v) if v.lstrip("-").isdigit() else v for f, v in parse_fields(shape).items()}


def _same_key(picked: Mapping[str, Any] | str | None, key: Mapping[str, Any]) -> bool:
    if picked is None:
        return not key
    return (picked if isinstance(picked, str) else key_id(picked)) == key_id(key)


def tuning_key(
    wrapper: HelionKernelWrapper, shape: str, args: tuple[Any, ...], known_keys: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """The config key that the op's selection uses for ``args`` once an entry for it exists.

    Declarative ``keys=``: the exact dimensions (an exact match wins at run
    time). ``config_picker``: the key named by the shape's name (``field=value``
    pairs) if the picker chooses it when it is offered, else what the picker
    returns given the keys known for the platform (None is the default entry).
    Neither: the default entry.
    """
    if wrapper.config_picker is not None:
        known = [dict(k) for k in known_keys]
        candidate = _key_from_shape_name(shape)
        if candidate and _same_key(wrapper.config_picker(args, [*known, candidate]), candidate):
            return candidate
        picked = wrapper.config_picker(args, known)
        if picked is None:
            return {}
        if isinstance(picked, str):
            for k in known:
                if key_id(k) == picked:
                    return k
            if picked == "default":
                return {}
            raise AutotuneError(
                f"op {wrapper.op_name!r}: config_picker returned key id {picked!r} for shape {shape!r}, which no "
                "known entry has, so the key to write is unknown; return the key as a dict, or name shapes "
                "by their key fields (field=value,...) so that the picker can be offered that key"
            )
        return dict(picked)
    if wrapper.keys:
        from ._selection import _dim_reader

        return dict(_dim_reader(wrapper.raw_kernel_func, wrapper.keys, wrapper.op_name)(args))
    return {}


def _planning_inputs(wrapper: HelionKernelWrapper) -> dict[str, tuple[Any, ...]]:
    # Shapes, keys and sizes only: 'meta' tensors take no memory, nor a GPU in the driver.
    return generate_inputs(wrapper, device="meta" if accepts_argument(wrapper, "device") else None)


def plan_jobs(
    wrappers: Sequence[HelionKernelWrapper],
    *,
    specs: Sequence[str] | None,
    platform: str,
    effort: str,
    out_dir: Path,
    budget_seconds: int | None = None,
    resume: bool = False,
) -> Plan:
    """One job per (op, config key) of the selected shapes; with ``resume``, keys tuned before are skipped."""
    plan = Plan([], [], [])
    out_store = ConfigStore([out_dir])
    tunable = []
    for wrapper in wrappers:
        if wrapper.input_generator is None:
            plan.notes.append(f"{wrapper.op_name}: no input generator, nothing to tune")
        else:
            tunable.append((wrapper, _planning_inputs(wrapper)))
    chosen = specs_by_op({w.op_name: list(inputs) for w, inputs in tunable}, specs, "tuned") if tunable else {}
    for wrapper, inputs in tunable:
        if wrapper.op_name not in chosen:
            plan.notes.append(f"{wrapper.op_name}: --shapes matches none of its shapes, left out")
            continue
        op_specs = chosen[wrapper.op_name]
        names = matching_names(wrapper.op_name, list(inputs), op_specs) if op_specs else list(inputs)
        known = {**wrapper.config_store.load(wrapper.op_name, platform), **out_store.load(wrapper.op_name, platform)}
        known_keys = [e.key for e in known.values()]
        by_key: dict[str, Job] = {}
        for name in names:
            key = tuning_key(wrapper, name, inputs[name], known_keys)
            kid = key_id(key)
            if kid in by_key:
                first = by_key[kid]
                by_key[kid] = dataclasses.replace(first, also_covers=(*first.also_covers, name))
                continue
            by_key[kid] = Job(
                op=wrapper.op_name,
                module=wrapper.module,
                shape=name,
                key=key,
                platform=platform,
                effort=effort,
                budget_seconds=budget_seconds,
                nbytes=_tensor_bytes(inputs[name]),
            )
        done = tuned_key_ids(out_dir, wrapper.op_name, platform) if resume else set()
        for kid, job in by_key.items():
            (plan.skipped if kid in done else plan.jobs).append(job)
    return plan


# ---------------------------------------------------------------- running one job


def load_wrapper(op: str, module: str) -> HelionKernelWrapper:
    """The op by name, in any process: registered already, else by importing its module, else entry points."""
    from . import _registry

    with contextlib.suppress(UnknownOpError):
        return _registry.get_kernel(op)
    if module and module != "__main__":
        importlib.import_module(module)
        with contextlib.suppress(UnknownOpError):
            return _registry.get_kernel(op)
    _registry.load_entry_points()
    try:
        return _registry.get_kernel(op)
    except UnknownOpError as exc:
        hint = " (it is defined in a script run as __main__: move it into an importable module)" if module == "__main__" else ""
        raise UnknownOpError(f"{exc}{hint}") from None


def helion_setting_names() -> set[str]:
    """The fields of this Helion's ``Settings`` (they differ between releases)."""
    import helion

    if dataclasses.is_dataclass(helion.Settings):
        return {f.name for f in dataclasses.fields(helion.Settings)}
    return set(vars(helion.Settings()))


def autotune_settings(
    wrapper: HelionKernelWrapper, effort: str, budget_seconds: int | None, available: set[str]
) -> dict[str, Any]:
    """The ``helion.kernel`` settings of a tuning run, each passed only where this Helion has it.

    Checked in helion 1.1.0, 1.4.0 and 1.5.0: all have autotune_effort,
    autotune_budget_seconds, autotune_progress_bar and
    autotune_benchmark_subprocess. A setting the user asked for that this
    Helion lacks is an error rather than silently ignored.
    """
    asked: dict[str, Any] = {}
    if effort != DEFAULT_EFFORT and effort not in OWN_EFFORTS:
        asked["autotune_effort"] = effort
    if budget_seconds is not None:
        asked["autotune_budget_seconds"] = budget_seconds
    missing = sorted(set(asked) - available)
    if missing:
        raise AutotuneError(
            f"op {wrapper.op_name!r}: this helion ({_helion_version()}) has no setting {', '.join(missing)}; "
            "upgrade helion or leave out the option (--effort, --budget-seconds)"
        )
    wanted: dict[str, Any] = {
        **wrapper.helion_settings,
        # As the op runs: one config serves every batch size.
        "static_shapes": False,
        # A sweep compiles and times its candidates itself (``sweep``); Helion's effort is unused.
        "autotune_effort": DEFAULT_EFFORT if effort in OWN_EFFORTS else effort,
        # Our own progress display runs; Helion's bar would tear it.
        "autotune_progress_bar": False,
        **asked,
    }
    if BENCHMARK_SUBPROCESS_ENV_VAR not in os.environ:
        # Helion's benchmark subprocess failed inside our worker processes on
        # the GPU machines; one process per GPU already isolates a hung kernel
        # (--job-timeout kills it). An explicit HELION_AUTOTUNE_BENCHMARK_SUBPROCESS wins.
        wanted["autotune_benchmark_subprocess"] = False
    return {k: v for k, v in wanted.items() if k in available or k in wrapper.helion_settings}


def _helion_version() -> str:
    from ._provenance import package_version

    return f"helion {package_version('helion')}"


def bind_for_tuning(
    wrapper: HelionKernelWrapper,
    args: tuple[Any, ...],
    effort: str,
    budget_seconds: int | None,
    variant: str | None = None,
) -> Any:
    """A fresh ``helion.Kernel`` of the op's function (or of its ``variant``)
    with the tuning settings, bound to ``args`` (the op's own kernels keep
    their preset-config autotuner and are not touched)."""
    import helion

    settings = autotune_settings(wrapper, effort, budget_seconds, helion_setting_names())
    return helion.kernel(wrapper.function_of(variant), **settings).bind(args)


def tuning_timer(shape: str, args: tuple[Any, ...]) -> Callable[[Callable[[], object]], float]:
    """How tuning times a call (ms), as ``helion-ops bench`` does: CUDA-graph
    replays for decode shapes (<= 256 tokens), medians of calls each after an
    L2 flush otherwise. Decode kernels take a few microseconds, so a flushed
    call's figure is launch-bound:
    on 2 H200 one config's do_bench time at 256 tokens moved by up to 5x
    between runs, which made the sweep's choice there close to random."""
    from ._timing import time_ms, timing_method

    method = timing_method(shape, args)

    def timer(fn: Callable[[], object]) -> float:
        return time_ms(fn, method)

    return timer


def helion_autotune(
    wrapper: HelionKernelWrapper,
    args: tuple[Any, ...],
    effort: str,
    budget_seconds: int | None,
    shape: str = "",
    seeds: Sequence[tuple[str, Mapping[str, Any]]] = (),
    variant: str | None = None,
) -> tuple[dict[str, Any], float, float, str]:
    """Helion's autotuner (or the sweep, with the ``seeds`` (label, config)
    among its candidates) on ``args``, for the op's function or its
    ``variant``; then the tuned and the default config timed by
    ``tuning_timer`` (ms), and where the tuned config came from
    (``config_origin``)."""
    from ._compare import clone_args

    if not cuda_available():
        raise AutotuneError(f"op {wrapper.op_name!r}: autotuning needs a CUDA GPU and this process sees none")
    timer = tuning_timer(shape, args)
    bound = bind_for_tuning(wrapper, args, effort, budget_seconds, variant)
    default = bound.config_spec.default_config()
    if effort == "none":
        tuned = default
    elif effort in OWN_EFFORTS:
        configs = [config for _, config in seeds]
        tuned = sweep(
            wrapper, args, bound, default, budget_seconds, timer=timer, seeds=configs, grid=effort == "sweep"
        )
    else:
        tuned = bound.autotune(args, force=True)
    origin = config_origin(tuned, default, seeds, bound, searched="candidates" if effort in OWN_EFFORTS else "helion")
    # Timed on copies: in-place ops must not drift the inputs later jobs reuse.
    work = clone_args(args)

    def run() -> object:
        return bound(*work)

    bound.set_config(tuned)
    tuned_ms = timer(run)
    if tuned == default:
        default_ms = tuned_ms
    else:
        bound.set_config(default)
        default_ms = timer(run)
    portable = portable_config(json.loads(tuned.to_json()), json.loads(default.to_json()))
    return portable, tuned_ms, default_ms, origin


# Always written, as in vLLM's files: what a reader looks for first.
_CORE_FIELDS = ("block_sizes", "num_warps", "num_stages")


def portable_config(tuned: dict[str, Any], default: dict[str, Any]) -> dict[str, Any]:
    """The tuned config without the fields that equal the default config's.

    Helion fills an absent field with its default, so the config means the
    same; and a file written by one helion loads in another that lacks a
    field the writer only set to its default (helion 1.5.0 writes
    ``host_tensor_descriptors: false``, which helion 1.4.0 and 1.5.1 refuse).
    """
    return {k: v for k, v in tuned.items() if k in _CORE_FIELDS or default.get(k, object()) != v}


class JobRunner:
    """Runs jobs in this process; keeps each op's inputs for the next job of that op."""

    def __init__(self, worker: str) -> None:
        self.worker = worker
        self._inputs: dict[str, dict[str, tuple[Any, ...]]] = {}

    def _args(self, wrapper: HelionKernelWrapper, job: Job, on_cpu: bool) -> tuple[Any, ...]:
        inputs = self._inputs.get(job.op)
        if inputs is None:
            device = "cpu" if on_cpu and accepts_argument(wrapper, "device") else None
            self._inputs.clear()  # one op's inputs at a time: they can be large
            inputs = self._inputs[job.op] = generate_inputs(wrapper, device=device)
        if job.shape not in inputs:
            raise AutotuneError(
                f"op {job.op!r}: its input generator has no shape {job.shape!r} in this process "
                f"(shapes: {', '.join(inputs)}); the generator must return the same names everywhere"
            )
        return inputs[job.shape]

    def run(self, job: Job, attempt: int = 1) -> JobResult:
        """Tune one job; any error becomes a failed result (the driver decides on a retry)."""
        start = time.perf_counter()
        try:
            stand_in = stand_in_autotuner()
            wrapper = load_wrapper(job.op, job.module)
            on_cpu = not cuda_available()
            if stand_in is None:
                self._check_platform(job)
            args = self._args(wrapper, job, on_cpu)
            autotuner = "helion" if stand_in is None else f"stand-in {stand_in[0]}"
            tuned = tune_variants(wrapper, job, args, stand_in)
            best = tuned.best
            record = make_record(
                config=best.config,
                tuned_ms=best.tuned_ms,
                default_ms=tuned.default_ms,
                effort=job.effort,
                autotuner=autotuner,
                shape=job.shape,
                origin=best.origin,
                variant=best.variant,
                variants_ms=tuned.variants_ms(),
            )
        except Exception as exc:  # reported per job; the run goes on
            return JobResult.failure(job, self.worker, attempt, _one_line(exc), time.perf_counter() - start)
        return JobResult(
            job=job,
            worker=self.worker,
            attempt=attempt,
            config=dict(best.config),
            tuned_ms=float(best.tuned_ms),
            default_ms=float(tuned.default_ms),
            provenance=record,
            seconds=time.perf_counter() - start,
            variant=best.variant,
        )

    @staticmethod
    def _check_platform(job: Job) -> None:
        from ._platform import current_platform

        if not cuda_available():
            raise AutotuneError(f"op {job.op!r}: autotuning needs a CUDA GPU and this process sees none")
        here = current_platform()
        if here != job.platform:
            raise AutotuneError(
                f"op {job.op!r}: this GPU is platform {here!r}, the job tunes for {job.platform!r}; "
                f"run it on a {job.platform} GPU or pass --platform {here}"
            )


@dataclasses.dataclass(frozen=True)
class VariantResult:
    """One kernel function of an op tuned for a job."""

    variant: str | None
    config: Mapping[str, Any]
    tuned_ms: float
    default_ms: float
    origin: str | None


@dataclasses.dataclass(frozen=True)
class VariantsTuned:
    """Every variant of a job's op, tuned; ``best`` the fastest, ``failed`` those that could not be."""

    results: tuple[VariantResult, ...]
    failed: tuple[tuple[str | None, str], ...] = ()

    @property
    def best(self) -> VariantResult:
        return min(self.results, key=lambda r: r.tuned_ms)

    @property
    def default_ms(self) -> float:
        """What the op's own function runs at with Helion's default config (untuned)."""
        own = [r for r in self.results if r.variant is None]
        return (own or list(self.results))[0].default_ms

    def variants_ms(self) -> dict[str, float | str] | None:
        """Tuned ms per variant (an error's text for one that failed); None for an op without variants."""
        if len(self.results) + len(self.failed) <= 1:
            return None
        found: dict[str, float | str] = {variant_label(r.variant): float(r.tuned_ms) for r in self.results}
        found.update({variant_label(v): error for v, error in self.failed})
        return found


def tune_variants(
    wrapper: HelionKernelWrapper, job: Job, args: tuple[Any, ...], stand_in: tuple[str, StandIn] | None
) -> VariantsTuned:
    """Tune the op's function and each of its variants for ``job``; a variant
    that fails is reported beside the others (the job fails only if all do).
    The job's time budget is shared by the kernels, so that a job takes what
    ``--budget-seconds`` says whatever the number of variants."""
    results: list[VariantResult] = []
    failed: list[tuple[str | None, str]] = []
    kernels = 1 + len(wrapper.variants)
    budget = None if job.budget_seconds is None else max(1, job.budget_seconds // kernels)
    for variant in (None, *wrapper.variants):
        try:
            if stand_in is not None:
                extra = {} if variant is None else {"variant": variant}
                config, tuned_ms, default_ms = stand_in[1](wrapper, args, job.effort, **extra)
                origin = None
            else:
                seeds = stored_seeds(wrapper, job.key, job.platform, args, variant) if job.effort in OWN_EFFORTS else []
                config, tuned_ms, default_ms, origin = helion_autotune(
                    wrapper, args, job.effort, budget, job.shape, seeds, variant
                )
        except Exception as exc:
            if not wrapper.variants:
                raise
            failed.append((variant, _one_line(exc)))
            continue
        results.append(VariantResult(variant, dict(config), float(tuned_ms), float(default_ms), origin))
    if not results:
        raise AutotuneError(
            f"op {wrapper.op_name!r}: every variant failed for shape {job.shape!r}: "
            + "; ".join(f"{variant_label(v)}: {error}" for v, error in failed)
        )
    return VariantsTuned(tuple(results), tuple(failed))


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:500]


# ---------------------------------------------------------------- writing results


class ResultWriter:
    """The one writer: each successful result merged into ``out_dir`` once, as soon as it arrives.

    The entry carries its provenance, and ConfigStore.write replaces the file
    by an atomic rename under a lock: a kill at any moment leaves the store
    with or without the whole entry, never half of it.
    """

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = Path(out_dir)
        self._store = ConfigStore([self.out_dir])
        self.written: set[str] = set()

    def write(self, result: JobResult) -> bool:
        job = result.job
        if not result.ok or job.job_id in self.written:
            return False
        assert result.config is not None and result.provenance is not None
        entry = tuned_entry(job.key, result.config, result.provenance, variant=result.variant)
        self._store.write(job.op, job.platform, [entry])
        self.written.add(job.job_id)
        return True


# ---------------------------------------------------------------- sequential driver


def autotune_sequential(
    jobs: Sequence[Job], writer: ResultWriter, reporter: Reporter, *, retries: int = DEFAULT_RETRIES
) -> list[JobResult]:
    """Every job in this process, one after the other; each result written as soon as it is known."""
    runner = JobRunner("main")
    results: list[JobResult] = []
    reporter.start(len(jobs), ["main"])
    try:
        for job in jobs:
            for attempt in range(1, retries + 2):
                reporter.started("main", job, attempt)
                result = runner.run(job, attempt)
                retry = not result.ok and attempt <= retries
                writer.write(result)
                reporter.finished("main", result, retry=retry)
                if not retry:
                    break
            results.append(result)
    finally:
        reporter.stop()
    return results
