"""Choosing a config entry for a call.

Either a hand-written picker ``config_picker(args, keys) -> key | None`` (keys
are the entries' key dicts; None means the default entry), or a declarative
``keys=`` mapping from key field to an argument dimension, e.g.
``{"hidden": ("x", -1), "numtokens": ("x", 0)}``. Declarative selection takes
an exact match, else per field (in the order given) the smallest configured
value >= the actual one, else the largest, and finally the default entry.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import torch

from ._config_entries import ConfigEntry, key_id
from ._errors import ConfigFileError, InvalidSettingsError, UnknownConfigKeyError

ConfigPicker = Callable[[tuple[Any, ...], list[dict[str, Any]]], "Mapping[str, Any] | str | None"]
KeySpec = Mapping[str, tuple[str, int]]


def _dim_reader(fn: Callable[..., Any], spec: KeySpec, op_name: str) -> Callable[[tuple[Any, ...]], dict[str, int]]:
    params = list(inspect.signature(fn).parameters)
    readers: list[tuple[str, int, int]] = []
    for field, (arg, dim) in spec.items():
        if arg not in params:
            raise InvalidSettingsError(
                f"op {op_name!r}: keys[{field!r}] names argument {arg!r}, which the kernel does not have; "
                f"expected one of {params}"
            )
        readers.append((field, params.index(arg), dim))

    def read(args: tuple[Any, ...]) -> dict[str, int]:
        out: dict[str, int] = {}
        for field, index, dim in readers:
            value = args[index]
            if not isinstance(value, torch.Tensor):
                raise TypeError(f"op {op_name!r}: key field {field!r} reads a tensor dimension, found {type(value).__name__}")
            out[field] = int(value.shape[dim])
        return out

    return read


def nearest_key(actual: Mapping[str, int], entries: Sequence[Mapping[str, Any]], fields: Sequence[str]) -> str | None:
    """Exact, else per field the smallest value >= actual, else the largest; None if no keyed entry."""
    candidates = [e for e in entries if e and set(e) == set(fields)]
    if not candidates:
        return None
    for entry in candidates:
        if all(entry[f] == actual[f] for f in fields):
            return key_id(entry)
    for field in fields:
        values = sorted({int(e[field]) for e in candidates})
        above = [v for v in values if v >= actual[field]]
        chosen = above[0] if above else values[-1]
        candidates = [e for e in candidates if int(e[field]) == chosen]
    return key_id(candidates[0])


def _check_int_keys(op_name: str, entries: Iterable[ConfigEntry], fields: Sequence[str]) -> None:
    """``keys=`` fields are tensor dimensions: an entry keyed by exactly those
    fields with a string value could never be chosen (and the nearest-value
    search compares numbers), so it is refused when the op loads its configs."""
    for entry in entries:
        key = entry.key
        if set(key) != set(fields):
            continue
        for field in fields:
            if type(key[field]) is not int:
                raise ConfigFileError(
                    f"op {op_name!r}: config entry {key_id(key)!r}{entry.origin} has {field}={key[field]!r}; the op's keys= "
                    f"fields ({', '.join(fields)}) are tensor dimensions, so their values must be integers. "
                    "Correct the entry, or re-tune it with `helion-ops autotune`."
                )


class ConfigSelector:
    """Maps call arguments to a config key id of ``entries``."""

    def __init__(
        self,
        op_name: str,
        fn: Callable[..., Any],
        entries: Mapping[str, ConfigEntry],
        *,
        config_picker: ConfigPicker | None = None,
        keys: KeySpec | None = None,
    ) -> None:
        self.op_name = op_name
        self.entries = dict(entries)
        self._picker = config_picker
        self._fields = list(keys) if keys else []
        self._read = _dim_reader(fn, keys, op_name) if keys else None
        self._key_dicts = [e.key for e in self.entries.values()]
        if keys:
            _check_int_keys(op_name, self.entries.values(), self._fields)

    def select(self, args: tuple[Any, ...]) -> str:
        """The key id to use; raises UnknownConfigKeyError for a picker's unknown key."""
        if self._picker is not None:
            picked = self._picker(args, [dict(k) for k in self._key_dicts])
            if picked is None:
                return "default"
            kid = picked if isinstance(picked, str) else key_id(picked)
            if kid not in self.entries and not (kid == "default" and not self.entries):
                raise UnknownConfigKeyError(
                    f"op {self.op_name!r}: config_picker returned key {kid!r}, which no config entry has; "
                    f"available keys: {sorted(self.entries)}. Return one of them, or None for the default."
                )
            return kid
        if self._read is not None:
            found = nearest_key(self._read(args), self._key_dicts, self._fields)
            if found is not None:
                return found
        return "default"
