"""Autotune's progress display and its closing summary.

While jobs run, a ``Reporter`` shows them: rich's live display on a
terminal (the overall bar with its ETA, a line per worker), one plain line
per event otherwise. At the end, ``print_summary`` tables each job's tuned
time against its default config's and names the failures.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ._autotune import Job, JobResult


class Reporter(Protocol):
    def start(self, total: int, slots: Sequence[str]) -> None: ...
    def started(self, slot: str, job: Job, attempt: int) -> None: ...
    def finished(self, slot: str, result: JobResult, *, retry: bool) -> None: ...
    def note(self, message: str) -> None: ...
    def stop(self) -> None: ...


def job_label(job: Job) -> str:
    return f"{job.op} {job.shape}"


def _fmt_ms(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:.4f}"


class LineReporter:
    """One line per event on stderr: logs, pipes and CI."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.total = 0
        self.done = 0
        self.t0 = time.monotonic()

    def _print(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def start(self, total: int, slots: Sequence[str]) -> None:
        self.total, self.done, self.t0 = total, 0, time.monotonic()
        where = f" on {len(slots)} workers ({', '.join(slots)})" if len(slots) > 1 else ""
        self._print(f"autotune: {total} job(s){where}")

    def started(self, slot: str, job: Job, attempt: int) -> None:
        again = f" (attempt {attempt})" if attempt > 1 else ""
        self._print(f"[{slot}] start {job_label(job)}{again}")

    def finished(self, slot: str, result: JobResult, *, retry: bool) -> None:
        if not retry:
            self.done += 1
        head = f"[{self.done}/{self.total}] [{slot}] {job_label(result.job)}"
        if result.ok:
            eta = self._eta()
            variant = "" if result.variant is None else f" with variant {result.variant}"
            failed = "".join(f"; variant {name} failed: {error}" for name, error in failed_variants(result))
            self._print(
                f"{head}: {_fmt_ms(result.tuned_ms)} ms{variant} (default {_fmt_ms(result.default_ms)} ms){failed}{eta}"
            )
        elif retry:
            self._print(f"{head}: failed, retrying: {result.error}")
        else:
            self._print(f"{head}: FAILED after {result.attempt} attempt(s): {result.error}")

    def _eta(self) -> str:
        if not self.done or self.done >= self.total:
            return ""
        left = (time.monotonic() - self.t0) / self.done * (self.total - self.done)
        return f", ETA {left:.0f}s"

    def note(self, message: str) -> None:
        self._print(f"autotune: {message}")

    def stop(self) -> None:
        pass


class RichReporter:
    """A rich progress display: the overall bar with its ETA and one line per worker (GPU)."""

    def __init__(self, console: Any) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.console = console
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
        )
        self.overall: Any = None
        self.slot_tasks: dict[str, Any] = {}

    def start(self, total: int, slots: Sequence[str]) -> None:
        self.progress.start()
        self.overall = self.progress.add_task("autotune", total=total)
        for slot in slots:
            self.slot_tasks[slot] = self.progress.add_task(f"  {slot}: idle", total=None, start=False)

    def started(self, slot: str, job: Job, attempt: int) -> None:
        task = self.slot_tasks.get(slot)
        again = f" (attempt {attempt})" if attempt > 1 else ""
        if task is not None:
            self.progress.update(task, description=f"  {slot}: {job_label(job)}{again}")

    def finished(self, slot: str, result: JobResult, *, retry: bool) -> None:
        task = self.slot_tasks.get(slot)
        if task is not None:
            self.progress.update(task, description=f"  {slot}: idle")
        if not result.ok:
            what = "failed, will retry" if retry else f"FAILED after {result.attempt} attempt(s)"
            self.progress.console.print(f"[{slot}] {job_label(result.job)}: {what}: {result.error}", markup=False)
        if not retry:
            self.progress.advance(self.overall)

    def note(self, message: str) -> None:
        self.progress.console.print(f"autotune: {message}", markup=False)

    def stop(self) -> None:
        self.progress.stop()


def make_reporter() -> Reporter:
    """rich's live display on a terminal, plain lines otherwise (or without rich)."""
    try:
        from rich.console import Console
    except ImportError:
        return LineReporter()
    console = Console(stderr=True)
    if not console.is_terminal:
        return LineReporter()
    return RichReporter(console)


def failed_variants(result: JobResult) -> list[tuple[str, str]]:
    """The op's kernel variants that could not be tuned in a job that was (name, error)."""
    timings = (result.provenance or {}).get("variants_ms") or {}
    return [(name, value) for name, value in timings.items() if isinstance(value, str)]


def job_status(result: JobResult) -> str:
    """``tuned``, with the variant written and those that failed (a job
    re-run without ``--resume`` retries them); ``FAILED``."""
    if not result.ok:
        return "FAILED"
    notes = ([result.variant] if result.variant else []) + [f"{name} failed" for name, _ in failed_variants(result)]
    return f"tuned ({'; '.join(notes)})" if notes else "tuned"


def summary_rows(results: Sequence[JobResult]) -> list[list[str]]:
    rows = []
    for r in sorted(results, key=lambda r: (r.job.op, r.job.shape)):
        status = job_status(r)
        # A time of 0 (a timer too coarse for the call) is still a tuned job, without a ratio.
        speedup = f"{r.default_ms / r.tuned_ms:.2f}x" if r.ok and r.tuned_ms and r.default_ms else "-"
        shape = r.job.shape + (f" (+{len(r.job.also_covers)} same key)" if r.job.also_covers else "")
        rows.append([r.job.op, shape, r.job.key_id, status, _fmt_ms(r.tuned_ms), _fmt_ms(r.default_ms), speedup, r.worker])
    return rows


SUMMARY_COLUMNS = ["op", "shape", "key", "status", "tuned ms", "default ms", "speed-up", "worker"]


def print_summary(results: Sequence[JobResult], skipped: Sequence[Job], out_dir: Path, stream: Any = None) -> None:
    """Per shape, the tuned config's time against the default config's; then where the files are."""
    from ._table import print_table

    stream = stream if stream is not None else sys.stdout
    print_table("autotune: tuned vs default config (ms, timed as helion-ops bench times)", SUMMARY_COLUMNS, summary_rows(results), file=stream)
    failed = [r for r in results if not r.ok]
    print(
        f"{len(results) - len(failed)} tuned, {len(failed)} failed, {len(skipped)} skipped (tuned before, --resume); "
        f"configs in {out_dir}",
        file=stream,
    )
    for r in failed:
        print(
            f"FAILED {r.job.op} {r.job.shape} (key {r.job.key_id}) after {r.attempt} attempt(s): {r.error}; "
            "nothing was written for this key, so the op keeps using its default (or nearest) entry there",
            file=stream,
        )
