"""Config files in vLLM's layout: ``<dir>/<op>/<platform>.json``.

Each file is a JSON list of ``{"key": {...}, "config": {...}}`` entries; the
entry whose key is ``{}`` is the default. Directories are layered: the first
one that has a file for an (op, platform) pair wins for each key, so a user
directory (``HELION_OPS_CONFIG_DIR`` or an argument) overrides the shipped
configs entry by entry. Writes are atomic (temporary file, fsync, rename) and
merge with what the file already holds.

Files are untrusted input: every failure to read, parse or validate one is a
``ConfigFileError`` naming the file (and the entry and field where there is
one); op and platform names that would leave the config directory, directly
or through a symlink, are a ``ConfigPathError``; a failed write is a
``ConfigStoreWriteError`` and leaves the previous file as it was.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

from ._atomic_write import atomic_write_text, directory_lock, remove_stale_temp_files
from ._config_entries import (
    ConfigEntry,
    parse_entries,
    read_limited_text,
    validate_config,
    validate_extra,
    validate_key,
)
from ._errors import ConfigFileError, ConfigPathError, ConfigStoreWriteError

CONFIG_DIR_ENV_VAR = "HELION_OPS_CONFIG_DIR"
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}")
# Writers in one process take turns (several ConfigStore objects may share a
# directory); across processes an flock on the op directory does the same.
_write_lock = threading.Lock()


def check_name(kind: str, value: str) -> str:
    """Op and platform names become path components: refuse anything else."""
    if not isinstance(value, str) or not _NAME.fullmatch(value) or ".." in value:
        raise ConfigPathError(
            f"{kind} {value!r} is not a valid config name: expected 1 to 128 letters, digits, '_', '-' or '.', "
            "not starting with '-' or '.' (no path separators, no '..')"
        )
    return value


def _resolved_inside(base: Path, path: Path) -> Path | None:
    """``path`` with symlinks resolved if that lies inside ``base`` (resolved too); else None."""
    try:
        resolved = path.resolve()
        return resolved if resolved.is_relative_to(base.resolve()) else None
    except (OSError, RuntimeError):  # a symlink loop
        return None


def _check_inside(base: Path, path: Path) -> None:
    if _resolved_inside(base, path) is None:
        raise ConfigPathError(
            f"{path} leads outside its config directory {base} (through a symlink, or a symlink loop); "
            "config files must lie inside the directory: replace the symlink with the files"
        )


class ConfigStore:
    """Layered config directories; the first directory listed wins per key.

    ``ConfigStore.layered(shipped, user)``: the user directories, then
    ``$HELION_OPS_CONFIG_DIR`` (``os.pathsep``-separated), then the shipped ones.
    """

    def __init__(self, directories: Sequence[str | os.PathLike[str]]) -> None:
        self.directories = [Path(d) for d in directories]

    @classmethod
    def layered(cls, shipped: Iterable[str | os.PathLike[str]], user: Iterable[str | os.PathLike[str]] = ()) -> ConfigStore:
        env = [p for p in os.environ.get(CONFIG_DIR_ENV_VAR, "").split(os.pathsep) if p]
        return cls([*user, *env, *shipped])

    def path(self, op: str, platform: str, directory: str | os.PathLike[str] | None = None) -> Path:
        """``<directory>/<op>/<platform>.json``; ConfigPathError if that leaves the directory."""
        check_name("op", op)
        check_name("platform", platform)
        if directory is None and not self.directories:
            raise ConfigPathError(f"op {op!r}: this ConfigStore has no directories; pass one")
        base = Path(directory) if directory is not None else self.directories[0]
        path = base / op / f"{platform}.json"
        _check_inside(base, path)
        return path

    def read_file(self, path: Path) -> list[ConfigEntry]:
        text = read_limited_text(path)
        return [] if text is None else parse_entries(text, str(path))

    def load(self, op: str, platform: str) -> dict[str, ConfigEntry]:
        """Entries for (op, platform) by key id, merged over the layers."""
        merged: dict[str, ConfigEntry] = {}
        for directory in reversed(self.directories):
            for entry in self.read_file(self.path(op, platform, directory)):
                merged[entry.key_id] = entry
        return merged

    def platforms(self, op: str) -> list[str]:
        """Platforms that have a config file for ``op`` in any layer."""
        check_name("op", op)
        found: set[str] = set()
        for d in self.directories:
            if _resolved_inside(d, d / op) is not None and (d / op).is_dir():
                found.update(p.stem for p in (d / op).glob("*.json") if _is_name(p.stem))
        return sorted(found)

    def ops(self) -> list[str]:
        found: set[str] = set()
        for d in self.directories:
            if d.is_dir():
                found.update(p.name for p in d.iterdir() if _is_name(p.name) and p.is_dir())
        return sorted(found)

    def write(
        self,
        op: str,
        platform: str,
        entries: Iterable[ConfigEntry],
        directory: str | os.PathLike[str] | None = None,
    ) -> Path:
        """Merge ``entries`` into ``<directory>/<op>/<platform>.json`` atomically.

        Existing entries with other keys are kept; entries with the same key
        are replaced. The file is replaced by rename, so readers see either
        the old or the new file, never a partial one. Concurrent writers (in
        threads or processes) take turns, so no merge is lost.
        """
        path = self.path(op, platform, directory)
        base = path.parent.parent
        new = list(entries)
        for i, entry in enumerate(new):
            where = f"{op}/{platform}: new entry {i}"
            if not isinstance(entry, ConfigEntry):
                raise ConfigFileError(f"{where}: expected a ConfigEntry, found {type(entry).__name__}")
            validate_key(entry.key, where)
            validate_config(entry.config, where)
            validate_extra(entry.extra, where)
        with _write_lock:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigStoreWriteError(
                    f"op {op!r}: cannot create config directory {path.parent}: {exc.strerror or exc}. "
                    "Pass a writable --out directory."
                ) from None
            _check_inside(base, path)  # again: the directory exists now
            with directory_lock(path.parent) as locked:
                if locked:
                    remove_stale_temp_files(path)
                merged = {e.key_id: e for e in self.read_file(path)}
                for entry in new:
                    merged[entry.key_id] = entry
                ordered = sorted(merged.values(), key=lambda e: file_order(e.key_id))
                text = json.dumps([e.to_json() for e in ordered], indent=2, allow_nan=False) + "\n"
                atomic_write_text(path, text, op=op)
        return path


def file_order(kid: str) -> tuple[bool, str]:
    """Sort key of entries in a written file: the default first, then by key id."""
    return (kid != "default", kid)


def _is_name(value: str) -> bool:
    try:
        check_name("name", value)
    except ConfigPathError:
        return False
    return True
