"""Autotuning as Ray tasks: the same jobs, ``num_gpus=1`` each, results back to the driver.

Ray is optional (``pip install 'helion-ops-core[ray]'``) and imported only
here, only when ``--ray`` is given. ``--ray`` alone starts a local Ray
instance; ``--ray ADDRESS`` joins a running cluster (``auto`` for the one
``ray start`` set up on this machine). Each task runs one job in a Ray worker
process (Ray pins it to its GPU) and returns the result; only the driver
writes the config store, each result once, as it arrives. Failed jobs and
crashed Ray workers are resubmitted by the driver, ``retries`` times at most.

Testing hook: ``HELION_OPS_RAY_NUM_CPUS=N`` makes each task ask for N CPUs
and no GPU, so a local Ray instance on a machine without GPUs runs the jobs
with the stand-in autotuner (HELION_OPS_AUTOTUNER).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from ._autotune import (
    BENCHMARK_SUBPROCESS_ENV_VAR,
    DEFAULT_RETRIES,
    Job,
    JobResult,
    JobRunner,
    ResultWriter,
)
from ._autotune_report import Reporter
from ._cli_errors import CliUsageError, MissingDependencyError, NoGPUError

RAY_NUM_CPUS_ENV_VAR = "HELION_OPS_RAY_NUM_CPUS"
# Variables a Ray worker on another machine needs to run a job as the driver would.
FORWARDED_PREFIXES = ("HELION", "TRITON")
# Helion's benchmark subprocess: off in Ray workers as in --gpus workers (see _autotune_parallel).
WORKER_ENV = {BENCHMARK_SUBPROCESS_ENV_VAR: "0"}


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise MissingDependencyError(
            "--ray needs Ray, which is not installed: pip install 'helion-ops-core[ray]' (or leave out --ray)"
        ) from None
    return ray


def task_resources(environ: Mapping[str, str] | None = None) -> dict[str, float]:
    """What each task asks of Ray: one GPU, or N CPUs under HELION_OPS_RAY_NUM_CPUS (tests)."""
    environ = os.environ if environ is None else environ
    value = environ.get(RAY_NUM_CPUS_ENV_VAR, "").strip()
    if not value:
        return {"num_gpus": 1}
    try:
        cpus = float(value)
    except ValueError:
        cpus = -1.0
    if cpus <= 0:
        raise CliUsageError(f"{RAY_NUM_CPUS_ENV_VAR}={value!r}: expected a positive number of CPUs per task")
    return {"num_cpus": cpus, "num_gpus": 0}


def check_feasible(resources: Mapping[str, float], cluster: Mapping[str, float]) -> None:
    """Refuse a run whose tasks no node could ever take (Ray would wait forever)."""
    for ray_name, ask in (("GPU", resources.get("num_gpus", 0)), ("CPU", resources.get("num_cpus", 0))):
        if ask and cluster.get(ray_name, 0) < ask:
            hint = (
                "; join a cluster with GPUs (--ray ADDRESS)"
                if ray_name == "GPU"
                else f"; lower {RAY_NUM_CPUS_ENV_VAR}"
            )
            raise NoGPUError(
                f"--ray: each task asks for {ask:g} {ray_name}, the Ray cluster has {cluster.get(ray_name, 0):g}{hint}"
            )


def runtime_env(local: bool) -> dict[str, Any]:
    env = {**WORKER_ENV, **{k: v for k, v in os.environ.items() if k.startswith(FORWARDED_PREFIXES)}}
    if local:
        # Local workers import ops from the modules this driver could import (--import).
        paths = [p or os.getcwd() for p in sys.path]
        if os.environ.get("PYTHONPATH"):
            paths.append(os.environ["PYTHONPATH"])
        env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    return {"env_vars": env}


_runner: JobRunner | None = None


def run_job_task(job_data: dict[str, Any], attempt: int) -> dict[str, Any]:
    """The body of a Ray task (module level, so Ray workers import it by name)."""
    global _runner
    from ._interpreter import enable_interpreter_libdevice

    enable_interpreter_libdevice()  # as every op process has it (helion_ops.core does it on first use)

    if _runner is None:
        import ray

        context = ray.get_runtime_context()
        gpus = ",".join(str(g) for g in ray.get_gpu_ids()) or "-"
        _runner = JobRunner(f"ray:{context.get_node_id()[:8]}:gpu{gpus}:pid{os.getpid()}")
    return _runner.run(Job.from_json(job_data), attempt).to_json()


def _failure_text(exc: BaseException) -> str:
    lines = [ln for ln in str(exc).splitlines() if ln.strip()]
    return f"Ray task failed: {type(exc).__name__}: {lines[0][:300] if lines else ''}"


def autotune_ray(
    jobs: Sequence[Job],
    writer: ResultWriter,
    reporter: Reporter,
    *,
    address: str | None,
    retries: int = DEFAULT_RETRIES,
) -> list[JobResult]:
    """Every job as a Ray task; each result written here as it arrives."""
    ray = import_ray()
    resources = task_resources()
    local = not address
    init_kwargs: dict[str, Any] = {
        "include_dashboard": False,
        "log_to_driver": False,
        "logging_level": "warning",
        "runtime_env": runtime_env(local),
    }
    if address:
        init_kwargs["address"] = address
    ray.init(**init_kwargs)
    try:
        check_feasible(resources, ray.cluster_resources())
        task = ray.remote(run_job_task).options(**resources, max_retries=0)
        pending: dict[Any, tuple[Job, int]] = {}

        def submit(job: Job, attempt: int) -> None:
            pending[task.remote(job.to_json(), attempt)] = (job, attempt)

        for job in sorted(jobs, key=lambda j: -j.nbytes):
            submit(job, 1)
        reporter.start(len(jobs), [])
        finals: dict[str, JobResult] = {}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                job, attempt = pending.pop(ref)
                try:
                    result = JobResult.from_json(ray.get(ref))
                except ray.exceptions.RayError as exc:
                    result = JobResult.failure(job, "ray", attempt, _failure_text(exc))
                retry = not result.ok and attempt <= retries
                writer.write(result)
                reporter.finished(result.worker, result, retry=retry)
                if retry:
                    submit(job, attempt + 1)
                else:
                    finals[job.job_id] = result
        reporter.stop()
        return [finals[job.job_id] for job in jobs]
    finally:
        ray.shutdown()
