"""Config entries: the ``{"key": {...}, "config": {...}}`` items of a config
file, their validation and the parsing of a file's text.

Files are untrusted input: every failure to read, parse or validate one is a
``ConfigFileError`` naming the file, the entry and the field where there is
one. ``config`` fields are checked against ``helion.Config``'s own
annotations (helion is imported on first use, not with this module).
"""

from __future__ import annotations

import collections.abc
import dataclasses
import functools
import inspect
import json
import math
import os
import re
import stat
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._errors import ConfigFileError

MAX_CONFIG_FILE_BYTES = 16 * 1024 * 1024
# Every integer a helion.Config field holds (block sizes, warps, stages,
# registers, loop indices...) is small and non-negative; a larger one is a
# corrupted file, not a config.
MAX_CONFIG_INT = 2**31 - 1
# Key values are written into key ids ("hidden=4096,numtokens=8").
MAX_KEY_INT = 2**63 - 1
# A config file nests 4 levels (list, entry, config, list of lists); deeper
# JSON is refused before anything walks it recursively (Python's recursion
# limit would turn a deep but small file into a RecursionError).
MAX_JSON_DEPTH = 32
# Fields naming a file that the compiler reads (ptxas ``--apply-controls``):
# a config file may not point the compiler at other files, nor smuggle options
# into its command line, so only the empty value is accepted.
FILE_FIELDS = ("advanced_controls_file",)
_KEY_TEXT = re.compile(r"[^,=]*")
# The entry field naming which of an op's kernels the config is for (an op
# registered with ``variants=``); entries without it are for the op's own
# function, as every vLLM entry is.
VARIANT_FIELD = "variant"
# How reports name the op's own function (an entry without ``variant``).
MAIN_VARIANT = "main"


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
    # Where the entry was read ("<file>, entry <i>"), for errors raised after
    # the layers are merged (registration); None for an entry made in memory.
    # Not written back and not part of equality.
    source: str | None = dataclasses.field(default=None, compare=False, repr=False)

    @property
    def origin(self) -> str:
        """`` (<file>, entry <i>)`` for error messages; empty for an entry made in memory."""
        return f" ({self.source})" if self.source else ""

    @property
    def key_id(self) -> str:
        return key_id(self.key)

    @property
    def variant(self) -> str | None:
        """The op variant the config is for; None for the op's own function."""
        value = self.extra.get(VARIANT_FIELD)
        return value if isinstance(value, str) else None

    def to_json(self) -> dict[str, Any]:
        return {"key": dict(self.key), "config": dict(self.config), **self.extra}


# ---------------------------------------------------------------- field types and validation


def _describe(hint: object) -> str | None:
    """A type hint as text (``list[int] | None``, JSON null being None); None for a kind we cannot check."""
    if hint is Any:
        return "any JSON value"
    if hint is type(None):
        return "None"
    if hint in (bool, int, float, str):
        return hint.__name__  # type: ignore[union-attr]
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType) or origin is typing.Literal:
        parts = [_describe(a) for a in args] if origin is not typing.Literal else [json.dumps(a) for a in args]
        return None if None in parts else " | ".join(typing.cast(list[str], parts))
    if origin in (list, collections.abc.Sequence) and len(args) == 1:
        inner = _describe(args[0])
        return None if inner is None else f"list[{inner}]"
    return None


def _resolve_field_type(annotation: object, namespace: dict[str, Any]) -> object:
    """One parameter's annotation (text under ``from __future__ import annotations``)
    evaluated in Helion's module; ``Any`` where it cannot be evaluated or checked."""

    def probe() -> None: ...

    probe.__annotations__ = {"value": annotation}
    try:
        hint = typing.get_type_hints(probe, globalns=namespace)["value"]
    except Exception:  # an alias Helion defines only for type checkers, say
        return Any
    return hint if _describe(hint) is not None else Any


@functools.cache
def helion_config_fields() -> dict[str, object]:
    """Field name -> type of ``helion.Config``'s keyword parameters, evaluated from
    Helion's own annotations (``Any`` for one this module cannot check)."""
    import helion

    init = helion.Config.__init__
    namespace = vars(inspect.getmodule(init) or helion)
    return {
        name: _resolve_field_type(p.annotation, namespace)
        for name, p in inspect.signature(init).parameters.items()
        if name != "self" and p.kind not in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
    }


def _matches(value: object, hint: object) -> bool:
    """``value`` (parsed JSON) has type ``hint``, checked structurally."""
    if hint is Any:
        return True
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return type(value) is int and 0 <= value <= MAX_CONFIG_INT
    if hint is float:
        # An int is finite however large (math.isfinite would overflow on it).
        return type(value) is int or (type(value) is float and math.isfinite(value))
    if hint is str:
        return isinstance(value, str)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, a) for a in args)
    if origin is typing.Literal:
        return any(type(value) is type(a) and value == a for a in args)
    if origin in (list, collections.abc.Sequence):
        return isinstance(value, list) and all(_matches(v, args[0]) for v in value)
    return False


def _json_type(value: object) -> str:
    return "None" if value is None else type(value).__name__


def _found(value: object) -> str:
    try:
        text = json.dumps(value)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    return f"{_json_type(value)} {text[:80]}{'...' if len(text) > 80 else ''}"


def _has_bad_int(value: object) -> bool:
    if isinstance(value, list):
        return any(_has_bad_int(v) for v in value)
    return type(value) is int and not 0 <= value <= MAX_CONFIG_INT


def validate_config(config: object, where: str) -> dict[str, Any]:
    """A ``config`` object of an entry: helion.Config fields with values of their types."""
    if not isinstance(config, dict):
        raise ConfigFileError(
            f"{where}: 'config' must be an object of helion.Config fields, found {_json_type(config)}"
        )
    fields = helion_config_fields()
    for name, value in config.items():
        if name not in fields:
            raise ConfigFileError(
                f"{where}, field {name!r}: unknown helion.Config field; expected one of "
                f"{', '.join(sorted(fields))}. Remove it or re-tune with this helion version."
            )
        hint = fields[name]
        if not _matches(value, hint):
            note = f" (config integers are 0..{MAX_CONFIG_INT})" if _has_bad_int(value) else ""
            raise ConfigFileError(
                f"{where}, field {name!r}: expected {_describe(hint)}, found {_found(value)}{note}. "
                "Fix the value or re-tune the entry."
            )
        if name in FILE_FIELDS and value:
            raise ConfigFileError(
                f"{where}, field {name!r}: config files may not name other files (the compiler would read "
                f"{_found(value)} from outside the config directory); found a non-empty value. Remove the field."
            )
    return dict(config)


def validate_key(key: object, where: str) -> dict[str, int | str]:
    if not isinstance(key, dict):
        raise ConfigFileError(f"{where}: 'key' must be an object, found {_json_type(key)}")
    for name, value in key.items():
        if not isinstance(name, str) or not name or not _KEY_TEXT.fullmatch(name):
            raise ConfigFileError(
                f"{where}, key field {name!r}: key field names must be non-empty and contain no ',' or '='"
            )
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise ConfigFileError(
                f"{where}, key field {name!r}: expected an int or a string, found {_found(value)}"
            )
        if isinstance(value, int) and abs(value) > MAX_KEY_INT:
            raise ConfigFileError(f"{where}, key field {name!r}: expected an int of 64 bits, found {value}")
        if isinstance(value, str) and not _KEY_TEXT.fullmatch(value):
            raise ConfigFileError(f"{where}, key field {name!r}: string values must contain no ',' or '=', found {value!r}")
    return dict(key)


def validate_extra(extra: object, where: str) -> dict[str, Any]:
    """Extra fields of a new entry: kept beside 'key' and 'config', so plain JSON
    with other names."""
    if not isinstance(extra, dict) or not all(isinstance(k, str) for k in extra):
        raise ConfigFileError(f"{where}: extra fields must be an object with string names, found {_found(extra)}")
    clash = sorted({"key", "config"} & set(extra))
    if clash:
        raise ConfigFileError(f"{where}: extra fields must not be named {clash}; they would replace the entry's own")
    if VARIANT_FIELD in extra:
        validate_variant(extra[VARIANT_FIELD], where)
    _check_depth(extra, where, MAX_JSON_DEPTH - 1)
    try:
        json.dumps(extra, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ConfigFileError(f"{where}: extra fields are not plain JSON ({exc})") from None
    return dict(extra)


def validate_variant(value: object, where: str) -> str:
    """An entry's ``variant``: the name of one of the op's kernels, a Python identifier."""
    if not isinstance(value, str) or not value.isidentifier():
        raise ConfigFileError(
            f"{where}, field {VARIANT_FIELD!r}: expected the name of one of the op's kernel variants (a Python "
            f"identifier), found {_found(value)}. Correct it, or remove the field to use the op's own kernel."
        )
    if value == MAIN_VARIANT:
        raise ConfigFileError(
            f"{where}, field {VARIANT_FIELD!r}: found {value!r}, the name reports give the op's own kernel; an "
            "entry for that kernel has no variant field. Remove the field."
        )
    return value


def _check_depth(value: object, where: str, limit: int = MAX_JSON_DEPTH) -> None:
    """Refuse lists and objects nested deeper than ``limit`` (walked without recursion)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (list, dict)):
            if depth > limit:
                raise ConfigFileError(
                    f"{where}: JSON nested deeper than {limit} levels; a config entry needs at most 4"
                )
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))


# ---------------------------------------------------------------- parsing


class _DuplicateJsonKey(Exception):
    def __init__(self, name: str, names: list[str]) -> None:
        super().__init__(name)
        self.name = name
        self.names = names


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads keeps the last of two equal names silently; a config file
    # with one is ambiguous (hand-merged, most likely), so it is refused.
    out: dict[str, Any] = {}
    for name, value in pairs:
        if name in out:
            raise _DuplicateJsonKey(name, [n for n, _ in pairs])
        out[name] = value
    return out


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON value")


def _load_json(text: str, source: str) -> object:
    try:
        return json.loads(text, object_pairs_hook=_object_without_duplicates, parse_constant=_refuse_constant)
    except _DuplicateJsonKey as dup:
        names = ", ".join(repr(n) for n in dup.names[:8])
        raise ConfigFileError(
            f"{source}: the JSON object with names {names} has the name {dup.name!r} more than once; "
            "JSON readers keep only the last one, so remove the other"
        ) from None
    except json.JSONDecodeError as exc:
        raise ConfigFileError(f"{source}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except RecursionError:
        raise ConfigFileError(f"{source}: JSON nested too deeply") from None
    except ValueError as exc:  # NaN/Infinity, integers past Python's digit limit
        raise ConfigFileError(f"{source}: not valid JSON ({exc})") from None


def parse_entries(text: str, source: str) -> list[ConfigEntry]:
    """Parse and validate a config file's text; errors name file, entry index and field."""
    data = _load_json(text, source)
    _check_depth(data, source)
    if not isinstance(data, list):
        raise ConfigFileError(
            f"{source}: expected a JSON list of {{'key': ..., 'config': ...}} entries, found {_json_type(data)}"
        )
    entries: list[ConfigEntry] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(data):
        where = f"{source}, entry {index}"
        if not isinstance(item, dict) or "key" not in item or "config" not in item:
            raise ConfigFileError(f"{where}: expected an object with 'key' and 'config', found {_found(item)}")
        key = validate_key(item["key"], where)
        config = validate_config(item["config"], where)
        kid = key_id(key)
        if kid in seen:
            raise ConfigFileError(f"{where}: duplicate key {kid!r} (also entry {seen[kid]}); keep one of them")
        seen[kid] = index
        # Kept and written back on merge: checked as new entries' extras are
        # (an Infinity read from 1e400 would make every later write fail).
        extra = validate_extra({k: v for k, v in item.items() if k not in ("key", "config")}, where)
        entries.append(ConfigEntry(key, config, extra, source=where))
    return entries


def read_limited_text(path: Path, limit: int | None = None) -> str | None:
    """The UTF-8 text of the regular file ``path``, None if there is none.

    Never reads more than ``limit`` (default ``MAX_CONFIG_FILE_BYTES``) + 1
    bytes, and never blocks on a FIFO or device put where a file should be.
    """
    limit = MAX_CONFIG_FILE_BYTES if limit is None else limit
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigFileError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigFileError(f"{path}: not a regular file; remove it or replace it with a config file")
        if info.st_size > limit:
            raise ConfigFileError(f"{path}: {info.st_size} bytes, more than the {limit} allowed for a config file")
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise ConfigFileError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    finally:
        os.close(fd)
    if size > limit:
        raise ConfigFileError(f"{path}: grew past the {limit} bytes allowed for a config file while being read")
    try:
        return b"".join(chunks).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigFileError(f"{path}: cannot be read (not UTF-8: {exc.reason} at byte {exc.start})") from None
