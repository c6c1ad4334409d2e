"""Atomic replacement of a file: a temporary file beside it, written,
fsynced and renamed over it, then the directory synced.

Readers see the old or the new file, never a partial one; a writer killed at
any point leaves the old file and at most a stale temp file (a dot file
ending in ``.tmp``), which the next writer holding the directory lock
removes. Failures are ``ConfigStoreWriteError``s naming the op and the path.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

from ._errors import ConfigStoreWriteError

try:  # POSIX: writers of one directory take turns across processes too.
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


@contextlib.contextmanager
def directory_lock(directory: Path) -> Iterator[bool]:
    """Hold an exclusive flock on ``directory``; yields whether it is held."""
    if fcntl is None:
        yield False
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        yield False
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            held = True
        except OSError:  # a filesystem without flock
            held = False
        yield held
    finally:
        os.close(fd)  # closing releases the lock


def _temp_prefix(path: Path) -> str:
    # A dot file ending in .tmp: neither a ``*.json`` platform file nor shown by ls.
    return f".{path.name}."


def remove_stale_temp_files(path: Path) -> None:
    """Temp files of writers that died before renaming (killed, power loss).

    Called only with the directory lock held, when no other writer is mid-write.
    """
    for stale in path.parent.glob(f"{_temp_prefix(path)}*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            stale.unlink()


def _unlink_quietly(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _fsync_directory(directory: Path, op: str | None, path: Path) -> None:
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        if exc.errno in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            return  # filesystems that cannot sync a directory: the rename is done
        raise ConfigStoreWriteError(
            f"{_op_prefix(op)}wrote {path} but could not sync its directory ({exc}); the file may not survive a crash"
        ) from exc


def _op_prefix(op: str | None) -> str:
    return f"op {op!r}: " if op else ""


def _existing_mode(path: Path) -> int | None:
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return None


def _create_temp_file(path: Path) -> tuple[int, str]:
    """A new, empty temp file beside ``path``, created with mode 0666 less the
    umask as open() would (mkstemp's 0600 would hide a shared config
    directory's files from other users once renamed)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    while True:
        tmp = path.parent / f"{_temp_prefix(path)}{secrets.token_hex(8)}.tmp"
        try:
            return os.open(tmp, flags, 0o666), str(tmp)
        except FileExistsError:
            continue


def atomic_write_text(path: Path, text: str, *, op: str | None = None) -> None:
    """Replace ``path`` by ``text`` atomically: readers see the old or the new
    file, never a partial one. The new file keeps the old one's permissions.
    Any failure is a ConfigStoreWriteError naming the op, the path and the
    cause; the temp file is removed and the old file kept."""
    mode = _existing_mode(path)
    try:
        fd, tmp = _create_temp_file(path)
    except OSError as exc:
        raise ConfigStoreWriteError(
            f"{_op_prefix(op)}cannot write {path}: {exc.strerror or exc}. Pass a writable directory."
        ) from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            if mode is not None:
                os.fchmod(fd, mode)
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        _unlink_quietly(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, ConfigStoreWriteError):
            raise ConfigStoreWriteError(
                f"{_op_prefix(op)}cannot write {path}: {exc}; the previous file is unchanged. "
                "Free disk space or pass a writable directory."
            ) from exc
        raise
    _fsync_directory(path.parent, op, path)
