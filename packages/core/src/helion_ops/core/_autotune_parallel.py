"""Autotuning on several local GPUs: one worker process per GPU, one queue, one writer.

The driver keeps the jobs in one queue, largest inputs first (the longest
jobs start first, so the run does not end waiting on one big shape). A
thread per GPU hands the next job to its worker, a ``python -m
helion_ops.core._autotune_parallel`` process pinned with
``CUDA_VISIBLE_DEVICES``, and waits for its answer: one JSON line per job on
the worker's stdout (the worker moves its own stdout to its log, so prints
from Helion or Triton cannot garble the answers). Workers get the job by
name and import the op themselves: nothing of the driver's memory is needed.

A job that fails, or whose worker crashes or runs past ``job_timeout``, goes
back to the queue for another worker, ``retries`` times at most; a crashed
worker is replaced. Only the driver's main thread writes results, each once,
as they arrive. With the test stand-in autotuner (HELION_OPS_AUTOTUNER) and
no CUDA, ``--gpus N`` runs N simulated workers on the CPU.

Workers set HELION_AUTOTUNE_BENCHMARK_SUBPROCESS=0 (Helion's benchmark
subprocess failed inside such workers on the GPU machines) and die with the
driver (Linux: PR_SET_PDEATHSIG), so a killed driver leaves no worker behind
holding a GPU; ``--resume`` then picks up the jobs not yet written.
"""

from __future__ import annotations

import json
import os
import queue
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from ._autotune import (
    BENCHMARK_SUBPROCESS_ENV_VAR,
    DEFAULT_RETRIES,
    WORKER_NAME_ENV_VAR,
    Job,
    JobResult,
    JobRunner,
    ResultWriter,
)
from ._autotune_report import Reporter
from ._cli_errors import AutotuneError, CliUsageError, NoGPUError

WORKER_MODULE = "helion_ops.core._autotune_parallel"
# The worker's first line, once torch and helion are imported: --job-timeout
# counts from a job's hand-over, never the worker's start-up.
READY = {"ready": True}
STARTUP_TIMEOUT_S = 900.0


def resolve_gpus(spec: str, *, stand_in_active: bool) -> list[str]:
    """``--gpus N|all`` -> the CUDA device ids, one worker each (simulated ids with the stand-in on CPU)."""
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if spec == "all":
        if count == 0:
            raise NoGPUError("--gpus all: this machine has no CUDA GPU; run on a GPU machine")
        n = count
    else:
        try:
            n = int(spec)
        except ValueError:
            raise CliUsageError(f"--gpus expects a number of GPUs or 'all', found {spec!r}") from None
        if n < 1:
            raise CliUsageError(f"--gpus expects at least 1 GPU, found {n}")
        if count == 0:
            if not stand_in_active:
                raise NoGPUError(f"--gpus {n}: this machine has no CUDA GPU; run on a GPU machine")
            return [str(i) for i in range(n)]  # simulated: the stand-in needs no GPU
        if n > count:
            raise CliUsageError(f"--gpus {n}: this machine has {count} CUDA GPU(s); pass --gpus {count} or --gpus all")
    # Respect a CUDA_VISIBLE_DEVICES the user set: worker i gets its i-th entry.
    visible = [d.strip() for d in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if d.strip()]
    ids = visible if len(visible) >= count > 0 else [str(i) for i in range(count)]
    return ids[:n]


# ---------------------------------------------------------------- the queue


class JobQueue:
    """Jobs by size, largest first; a job that failed on a worker goes to another one if any can take it."""

    def __init__(self, jobs: Sequence[Job], slots: int) -> None:
        self._items: list[tuple[Job, int, frozenset[str]]] = [
            (job, 1, frozenset()) for job in sorted(jobs, key=lambda j: -j.nbytes)
        ]
        self._slots = slots
        self._closed = False
        self._cond = threading.Condition()

    def get(self, slot: str) -> tuple[Job, int] | None:
        """The next job for ``slot`` and its attempt number; None once closed."""
        with self._cond:
            while True:
                if self._closed:
                    return None
                for index, (job, attempt, failed_on) in enumerate(self._items):
                    if slot not in failed_on or len(failed_on) >= self._slots:
                        del self._items[index]
                        return job, attempt
                self._cond.wait()

    def retry(self, job: Job, attempt: int, failed_on: frozenset[str]) -> None:
        with self._cond:
            self._items.append((job, attempt, failed_on))
            self._items.sort(key=lambda item: -item[0].nbytes)
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


# ---------------------------------------------------------------- one worker process


class WorkerDied(Exception):
    """The worker process ended, or ran past the job timeout and was killed."""


def _worker_env(gpu: str, name: str) -> dict[str, str]:
    env = dict(os.environ)
    env["CUDA_VISIBLE_DEVICES"] = gpu
    env[WORKER_NAME_ENV_VAR] = name
    env["PYTHONUNBUFFERED"] = "1"
    env[BENCHMARK_SUBPROCESS_ENV_VAR] = "0"
    # The driver's import path: ops from modules it imported (--import) import in the worker too.
    paths = [p or os.getcwd() for p in sys.path]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    return env


def _signal_name(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


class WorkerProcess:
    """A worker pinned to one GPU; ``run(job)`` sends the job and waits for its result line."""

    def __init__(self, name: str, gpu: str, log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(
            [sys.executable, "-m", WORKER_MODULE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=_worker_env(gpu, name),
            # Its own session: a Ctrl-C in the terminal reaches the driver, which ends the workers.
            start_new_session=True,
        )
        self._buffer = b""

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT_S) -> None:
        line = self._read_line(timeout, what=f"start-up time of {timeout:g}s")
        try:
            ready = json.loads(line) == READY
        except ValueError:
            ready = False
        if not ready:
            raise WorkerDied(f"sent {line[:200]!r} instead of its ready line")

    def run(self, job: Job, attempt: int, timeout: float | None) -> JobResult:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write((json.dumps({"job": job.to_json(), "attempt": attempt}) + "\n").encode())
            self.proc.stdin.flush()
        except OSError:
            raise WorkerDied(self._death()) from None
        line = self._read_line(timeout, what=f"job timeout of {timeout:g}s" if timeout else "")
        try:
            return JobResult.from_json(json.loads(line))
        except (ValueError, TypeError, KeyError) as exc:
            raise WorkerDied(f"sent an unreadable answer ({exc}): {line[:200]!r}") from None

    def _read_line(self, timeout: float | None, what: str) -> str:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self._buffer:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([fd], [], [], wait)
            if not ready:
                self.kill()
                raise WorkerDied(f"ran past the {what} and was killed")
            chunk = os.read(fd, 65536)
            if not chunk:
                raise WorkerDied(self._death())
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode("utf-8", "replace")

    def _death(self) -> str:
        try:
            code = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.proc.wait()
        return f"crashed ({_signal_name(code)}); its log: {self.log_path}{self._last_log_line()}"

    def _last_log_line(self) -> str:
        try:
            lines = [ln for ln in self.log_path.read_text(errors="replace").splitlines() if ln.strip()]
        except OSError:
            return ""
        return f"; last line: {lines[-1][:200]}" if lines else ""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.proc.kill()
            self.proc.wait()

    def close(self) -> None:
        """End of work: close its stdin (it exits), kill it if it lingers."""
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._log.close()


def _slot_loop(
    name: str,
    gpu: str,
    jobs: JobQueue,
    events: queue.Queue[tuple[str, str, Any]],
    log_dir: Path,
    job_timeout: float | None,
    live: dict[str, WorkerProcess],
) -> None:
    worker: WorkerProcess | None = None
    try:
        while (item := jobs.get(name)) is not None:
            job, attempt = item
            events.put(("started", name, (job, attempt)))
            start = time.perf_counter()
            try:
                if worker is None or not worker.alive():
                    worker = live[name] = WorkerProcess(name, gpu, log_dir / f"{name}.log")
                    worker.wait_ready()
                result = worker.run(job, attempt, job_timeout)
            except WorkerDied as exc:
                result = JobResult.failure(job, name, attempt, f"worker {name} {exc}", time.perf_counter() - start)
                if worker is not None:
                    worker.kill()
                    worker.close()
                worker = None
            except OSError as exc:  # could not start the worker at all
                result = JobResult.failure(job, name, attempt, f"worker {name} could not start: {exc}")
            events.put(("result", name, result))
    except BaseException as exc:  # never leave the driver waiting on a dead thread
        events.put(("crash", name, exc))
    finally:
        if worker is not None:
            worker.close()


# ---------------------------------------------------------------- the driver


def autotune_parallel(
    jobs: Sequence[Job],
    writer: ResultWriter,
    reporter: Reporter,
    *,
    gpus: Sequence[str],
    retries: int = DEFAULT_RETRIES,
    job_timeout: float | None = None,
) -> list[JobResult]:
    """Every job on a pool of one worker per GPU; results written by this thread as they arrive."""
    names = [f"gpu{gpu}" for gpu in gpus]
    queue_ = JobQueue(jobs, slots=len(names))
    events: queue.Queue[tuple[str, str, Any]] = queue.Queue()
    log_dir = Path(tempfile.mkdtemp(prefix="helion-ops-autotune-"))
    finals: dict[str, JobResult] = {}
    failed_on: dict[str, frozenset[str]] = {}
    # Each slot's current worker process, to end them all if this driver stops early.
    live: dict[str, WorkerProcess] = {}
    reporter.start(len(jobs), names)
    reporter.note(f"worker logs in {log_dir}")
    threads = [
        threading.Thread(
            target=_slot_loop, args=(name, gpu, queue_, events, log_dir, job_timeout, live), daemon=True
        )
        for name, gpu in zip(names, gpus, strict=True)
    ]
    for thread in threads:
        thread.start()
    try:
        while len(finals) < len(jobs):
            kind, slot, payload = events.get()
            if kind == "crash":
                raise AutotuneError(f"the driver thread of worker {slot} failed: {payload!r}")
            if kind == "started":
                job, attempt = payload
                reporter.started(slot, job, attempt)
                continue
            result: JobResult = payload
            job_id = result.job.job_id
            if job_id in finals:
                continue  # already settled: never written twice
            retry = not result.ok and result.attempt <= retries
            if result.ok:
                writer.write(result)
            reporter.finished(slot, result, retry=retry)
            if retry:
                failed_on[job_id] = failed_on.get(job_id, frozenset()) | {slot}
                queue_.retry(result.job, result.attempt + 1, failed_on[job_id])
            else:
                finals[job_id] = result
    finally:
        queue_.close()
        if len(finals) < len(jobs):  # interrupted or failed: do not wait for jobs in progress
            for worker in list(live.values()):
                worker.kill()
        for thread in threads:
            thread.join(timeout=30)
        reporter.stop()
    return [finals[job.job_id] for job in jobs]


# ---------------------------------------------------------------- the worker process


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Linux: SIGKILL this worker when the driver thread that started it ends (a killed driver included)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the driver died before the call above
        os._exit(1)


def worker_main(stdin: IO[str] | None = None) -> int:
    """Read jobs (JSON lines) from stdin, answer one JSON line each on the original stdout."""
    _die_with_parent()
    answers = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    # From here on fd 1 is the log (stderr): stray prints cannot reach the answers.
    os.dup2(2, 1)
    from ._interpreter import enable_interpreter_libdevice

    enable_interpreter_libdevice()  # as every op process has it (helion_ops.core does it on first use)
    import torch  # noqa: F401 - start-up cost paid before the ready line, not inside a job's timeout

    try:
        import helion  # noqa: F401
    except ImportError:  # reported by the first job that needs it
        pass
    answers.write(json.dumps(READY) + "\n")
    answers.flush()
    runner = JobRunner(os.environ.get(WORKER_NAME_ENV_VAR, "worker"))
    for line in stdin if stdin is not None else sys.stdin:
        if not line.strip():
            continue
        message = json.loads(line)
        job = Job.from_json(message["job"])
        print(f"job {job.job_id} attempt {message['attempt']}", file=sys.stderr, flush=True)
        result = runner.run(job, int(message["attempt"]))
        answers.write(json.dumps(result.to_json()) + "\n")
        answers.flush()
    return 0


if __name__ == "__main__":
    sys.exit(worker_main())
