"""Crash safety of ConfigStore.write: a writer process SIGKILLed at any point
leaves the previous file intact and parseable, and a resumed run completes it.

Writers are forked processes (multiprocessing "fork": no second torch import,
so a kill costs milliseconds) that call ``ConfigStore.write`` in a loop, one
new entry per call, each entry carrying a 96 KiB payload so that the file
(rewritten whole on every merge) takes a while to write. Two kinds of kills:

* at fixed points inside the write (temp file created, half written, before
  fsync, before rename, after rename before the directory sync, holding the
  directory lock before reading), by a hook in the child that SIGKILLs itself;
* at random times (seeded), from the parent, many rounds on one directory.

After every kill the file must load, hold exactly the entries 0..m-1 with
their payloads (m never decreasing), and a resumed writer must complete all
entries and leave no temp files behind.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from helion_ops.core import ConfigEntry, ConfigStore, _atomic_write, _config_entries

OP = "crash_op"
PLATFORM = "nvidia_h100"
PAYLOAD_BYTES = 96 * 1024

pytestmark = pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="forks writer processes (POSIX)"
)


@pytest.fixture(autouse=True, scope="module")
def _helion_fields_loaded() -> None:
    # Import helion's config module in the parent: forked writers inherit it
    # instead of each importing helion before their first write.
    _config_entries.helion_config_fields()


def entry(n: int) -> ConfigEntry:
    payload = (f"{n:06d}" * (PAYLOAD_BYTES // 6 + 1))[:PAYLOAD_BYTES]
    return ConfigEntry({"n": n}, {"num_warps": 4, "block_sizes": [n % 64 + 1]}, {"payload": payload})


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _install_kill_point(point: str, on_write: int, counter: list[int]) -> None:
    """In the child only: SIGKILL this process at ``point`` of write number ``on_write``."""
    module: Any = _atomic_write

    def armed() -> bool:
        return counter[0] == on_write

    def wrap(obj: Any, name: str, before: bool) -> None:
        original = getattr(obj, name)

        def hooked(*args: Any, **kwargs: Any) -> Any:
            if before and armed():
                _die()
            result = original(*args, **kwargs)
            if not before and armed():
                _die()
            return result

        setattr(obj, name, hooked)

    if point == "temp-created":
        wrap(module, "_create_temp_file", before=False)
    elif point == "before-fsync":
        wrap(module.os, "fsync", before=True)
    elif point == "before-rename":
        wrap(module.os, "replace", before=True)
    elif point == "after-rename":
        wrap(module, "_fsync_directory", before=True)
    elif point == "lock-held-before-read":
        wrap(ConfigStore, "read_file", before=True)
    elif point == "temp-half-written":
        original_fdopen = module.os.fdopen

        class HalfWriter:
            def __init__(self, handle: Any) -> None:
                self.handle = handle

            def __enter__(self) -> HalfWriter:
                return self

            def __exit__(self, *exc: object) -> None:
                self.handle.close()

            def write(self, text: str) -> int:
                if armed():
                    self.handle.write(text[: len(text) // 2])
                    self.handle.flush()
                    os.fsync(self.handle.fileno())
                    _die()
                return int(self.handle.write(text))

            def __getattr__(self, name: str) -> Any:
                return getattr(self.handle, name)

        module.os.fdopen = lambda *a, **k: HalfWriter(original_fdopen(*a, **k))
    else:
        raise ValueError(point)


def _writer(directory: str, total: int, point: str | None, on_write: int) -> None:
    """The child: write entries 0..total-1 that the file lacks, one write() each."""
    counter = [0]
    if point is not None:
        _install_kill_point(point, on_write, counter)
    store = ConfigStore([directory])
    done = store.load(OP, PLATFORM)
    for n in range(total):
        if f"n={n}" in done:
            continue
        store.write(OP, PLATFORM, [entry(n)])
        counter[0] += 1
    os._exit(0)


def run_writer(directory: Path, total: int, point: str | None = None, on_write: int = 0,
               kill_after: float | None = None) -> int | None:
    """Fork a writer; SIGKILL it after ``kill_after`` seconds if given. Returns its exit code."""
    process = multiprocessing.get_context("fork").Process(
        target=_writer, args=(str(directory), total, point, on_write), daemon=True
    )
    process.start()
    if kill_after is not None:
        process.join(kill_after)
        if process.is_alive():
            process.kill()  # SIGKILL
    process.join(60)
    assert not process.is_alive(), "writer hung (a directory lock left behind?)"
    return process.exitcode


def check_intact(directory: Path) -> int:
    """The file loads and holds entries 0..m-1 exactly, payloads whole; returns m."""
    loaded = ConfigStore([directory]).load(OP, PLATFORM)
    m = len(loaded)
    assert sorted(loaded) == sorted(f"n={n}" for n in range(m)), sorted(loaded)
    for n in range(m):
        assert loaded[f"n={n}"] == entry(n)
    return m


def temp_files(directory: Path) -> list[str]:
    op_dir = directory / OP
    return sorted(p.name for p in op_dir.iterdir() if p.name.endswith(".tmp")) if op_dir.is_dir() else []


KILL_POINTS = {
    # point -> entries on disk after a kill during write number 3 (entries 0, 1, 2 written before)
    "lock-held-before-read": 3,
    "temp-created": 3,
    "temp-half-written": 3,
    "before-fsync": 3,
    "before-rename": 3,
    "after-rename": 4,
}


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_kill_at_a_fixed_point_keeps_the_file_and_resumes(tmp_path: Path, point: str) -> None:
    total, on_write = 6, 3
    exitcode = run_writer(tmp_path, total, point, on_write)
    assert exitcode == -signal.SIGKILL
    assert check_intact(tmp_path) == KILL_POINTS[point]
    had_temp = temp_files(tmp_path)
    if point in ("temp-created", "temp-half-written", "before-fsync", "before-rename"):
        assert len(had_temp) == 1, had_temp  # the dead writer's temp file is left behind...
    assert run_writer(tmp_path, total) == 0
    assert check_intact(tmp_path) == total
    assert temp_files(tmp_path) == []  # ...and removed by the next writer, under the lock


def test_kills_at_random_times_never_lose_or_break_the_file(tmp_path: Path) -> None:
    """12 writers SIGKILLed at seeded random times (0-400 ms after start) on one
    directory, then a writer that runs to the end."""
    rng = random.Random(20240613)
    total = 100
    kills, previous, stale_seen = 0, 0, 0
    for _ in range(12):
        exitcode = run_writer(tmp_path, total, kill_after=rng.uniform(0.0, 0.4))
        if exitcode == -signal.SIGKILL:
            kills += 1
        m = check_intact(tmp_path)
        assert m >= previous, f"entries went from {previous} to {m}"
        previous = m
        stale_seen += len(temp_files(tmp_path))
    start = time.monotonic()
    assert run_writer(tmp_path, total) == 0
    assert check_intact(tmp_path) == total
    assert temp_files(tmp_path) == []
    assert kills >= 6, f"only {kills} of 12 writers were killed before finishing; the test lost its point"
    print(f"random kills: {kills}/12, stale temp files seen after kills: {stale_seen}, "
          f"entries before the final run: {previous}/{total}, final run {time.monotonic() - start:.2f}s")


def test_a_reader_never_sees_a_partial_file(tmp_path: Path) -> None:
    """While a writer is being killed repeatedly, loads from this process always
    find a whole file (or none yet)."""
    rng = random.Random(7)
    total = 40
    loads = 0

    def check_reads(deadline: float, read: Callable[[], int]) -> None:
        nonlocal loads
        while time.monotonic() < deadline:
            read()
            loads += 1

    for _ in range(4):
        process = multiprocessing.get_context("fork").Process(
            target=_writer, args=(str(tmp_path), total, None, 0), daemon=True
        )
        process.start()
        check_reads(time.monotonic() + rng.uniform(0.05, 0.3), lambda: check_intact(tmp_path))
        process.kill()
        process.join(60)
    assert loads > 0
    assert run_writer(tmp_path, total) == 0
    assert check_intact(tmp_path) == total
