"""Config files in vLLM's layout: ``<dir>/<op>/<platform>.json``.

Each file is a JSON list of ``{"key": {...}, "config": {...}}`` entries; the
entry whose key is ``{}`` is the default. Directories are layered: the first
one that has a file for an (op, platform) pair wins for each key, so a user
directory (``HELION_OPS_CONFIG_DIR`` or an argument) overrides the shipped
configs entry by entry. Writes are atomic (temporary file, fsync, rename) and
merge with what the file already holds.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import os
import re
import tempfile
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ._errors import ConfigFileError, ConfigPathError, ConfigStoreWriteError

CONFIG_DIR_ENV_VAR = "HELION_OPS_CONFIG_DIR"
MAX_CONFIG_FILE_BYTES = 16 * 1024 * 1024
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}$")

KeyDict = dict[str, int | str]


def key_id(key: Mapping[str, object]) -> str:
    """A stable text form of a key: ``"hidden=4096,numtokens=8"``; ``"default"`` for ``{}``."""
    if not key:
        return "default"
    return ",".join(f"{k}={key[k]}" for k in sorted(key))


@dataclasses.dataclass(frozen=True)
class ConfigEntry:
    key: dict[str, int | str]
    config: dict[str, Any]
    # Extra fields of the entry (provenance and the like), kept on rewrite.
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def key_id(self) -> str:
        return key_id(self.key)

    def to_json(self) -> dict[str, Any]:
        return {"key": dict(self.key), "config": dict(self.config), **self.extra}


@functools.cache
def helion_config_fields() -> dict[str, str]:
    """Field name -> annotation text of ``helion.Config``, read from its signature."""
    import helion

    params = inspect.signature(helion.Config.__init__).parameters
    return {
        name: str(p.annotation)
        for name, p in params.items()
        if name != "self" and p.kind not in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
    }


def _type_ok(value: object, annotation: str) -> bool:
    """A JSON value against a helion.Config annotation (text, e.g. ``list[int] | None``)."""
    if value is None:
        return "None" in annotation
    if isinstance(value, list):
        return "list" in annotation or "Sequence" in annotation
    scalar = annotation.replace("list[", "").replace("Sequence[", "")
    if isinstance(value, bool):
        return "bool" in scalar
    if isinstance(value, int):
        return "int" in scalar or "Literal" in scalar
    if isinstance(value, float):
        return "float" in scalar
    if isinstance(value, str):
        return "str" in scalar or "Literal" in scalar
    return False


def validate_config(config: object, where: str) -> dict[str, Any]:
    if not isinstance(config, dict):
        raise ConfigFileError(f"{where}: 'config' must be an object of helion.Config fields, found {type(config).__name__}")
    fields = helion_config_fields()
    for name, value in config.items():
        if name not in fields:
            raise ConfigFileError(
                f"{where}, field {name!r}: unknown helion.Config field; expected one of "
                f"{', '.join(sorted(fields))}. Remove it or re-tune with this helion version."
            )
        if not _type_ok(value, fields[name]):
            raise ConfigFileError(
                f"{where}, field {name!r}: expected {fields[name]}, found {type(value).__name__} {value!r}"
            )
    return dict(config)


def _validate_key(key: object, where: str) -> dict[str, int | str]:
    if not isinstance(key, dict):
        raise ConfigFileError(f"{where}: 'key' must be an object, found {type(key).__name__}")
    for name, value in key.items():
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise ConfigFileError(f"{where}, key field {name!r}: expected an int or a string, found {type(value).__name__} {value!r}")
    return dict(key)


def parse_entries(text: str, source: str) -> list[ConfigEntry]:
    """Parse and validate a config file's text; errors name file, entry index and field."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigFileError(f"{source}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except RecursionError:
        raise ConfigFileError(f"{source}: JSON nested too deeply") from None
    if not isinstance(data, list):
        raise ConfigFileError(f"{source}: expected a JSON list of {{'key': ..., 'config': ...}} entries, found {type(data).__name__}")
    entries: list[ConfigEntry] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(data):
        where = f"{source}, entry {index}"
        if not isinstance(item, dict) or "key" not in item or "config" not in item:
            raise ConfigFileError(f"{where}: expected an object with 'key' and 'config', found {json.dumps(item)[:80]}")
        key = _validate_key(item["key"], where)
        config = validate_config(item["config"], where)
        kid = key_id(key)
        if kid in seen:
            raise ConfigFileError(f"{where}: duplicate key {kid!r} (also entry {seen[kid]}); keep one of them")
        seen[kid] = index
        extra = {k: v for k, v in item.items() if k not in ("key", "config")}
        entries.append(ConfigEntry(key, config, extra))
    return entries


def check_name(kind: str, value: str) -> str:
    """Op and platform names become path components: refuse anything else."""
    if not isinstance(value, str) or not _NAME.match(value) or value in (".", "..") or ".." in value:
        raise ConfigPathError(
            f"{kind} {value!r} is not a valid config name: expected letters, digits, '_', '-' or '.' "
            "(no path separators, no '..')"
        )
    return value


class ConfigStore:
    """Layered config directories; the first directory listed wins per key.

    ``ConfigStore.default(extra_dirs)``: the given directories, then
    ``$HELION_OPS_CONFIG_DIR`` (``os.pathsep``-separated), then shipped ones.
    """

    def __init__(self, directories: Sequence[str | os.PathLike[str]]) -> None:
        self.directories = [Path(d) for d in directories]
        self._lock = threading.Lock()

    @classmethod
    def layered(cls, shipped: Iterable[str | os.PathLike[str]], user: Iterable[str | os.PathLike[str]] = ()) -> ConfigStore:
        env = [p for p in os.environ.get(CONFIG_DIR_ENV_VAR, "").split(os.pathsep) if p]
        return cls([*user, *env, *shipped])

    def path(self, op: str, platform: str, directory: str | os.PathLike[str] | None = None) -> Path:
        base = Path(directory) if directory is not None else self.directories[0]
        return base / check_name("op", op) / f"{check_name('platform', platform)}.json"

    def read_file(self, path: Path) -> list[ConfigEntry]:
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return []
        if size > MAX_CONFIG_FILE_BYTES:
            raise ConfigFileError(f"{path}: {size} bytes, more than the {MAX_CONFIG_FILE_BYTES} allowed for a config file")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigFileError(f"{path}: cannot be read ({exc})") from None
        return parse_entries(text, str(path))

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
        found = {p.stem for d in self.directories if (d / op).is_dir() for p in (d / op).glob("*.json")}
        return sorted(found)

    def ops(self) -> list[str]:
        return sorted({p.name for d in self.directories if d.is_dir() for p in d.iterdir() if p.is_dir()})

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
        the old or the new file, never a partial one.
        """
        path = self.path(op, platform, directory)
        new = list(entries)
        for i, entry in enumerate(new):
            validate_config(entry.config, f"{op}/{platform}: new entry {i}")
        with self._lock:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigStoreWriteError(f"cannot create config directory {path.parent}: {exc.strerror}. Pass a writable --out directory.") from None
            merged = {e.key_id: e for e in self.read_file(path)}
            for entry in new:
                merged[entry.key_id] = entry
            ordered = sorted(merged.values(), key=lambda e: (e.key_id != "default", e.key_id))
            text = json.dumps([e.to_json() for e in ordered], indent=2, sort_keys=False) + "\n"
            atomic_write_text(path, text)
        return path


def atomic_write_text(path: Path, text: str) -> None:
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise ConfigStoreWriteError(f"cannot write {path}: {exc.strerror}. Pass a writable directory.") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
