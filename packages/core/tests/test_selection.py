"""Config selection: declarative ``keys=`` (nearest_key) and ``config_picker``."""

from __future__ import annotations

import re
from typing import Any

import pytest
import torch

from helion_ops.core import (
    ConfigEntry,
    ConfigSelector,
    InvalidSettingsError,
    UnknownConfigKeyError,
    key_id,
    nearest_key,
)

# ---------------------------------------------------------------- nearest_key

KEYS = [
    {},
    {"hidden": 2048, "numtokens": 8},
    {"hidden": 2048, "numtokens": 256},
    {"hidden": 4096, "numtokens": 1},
    {"hidden": 4096, "numtokens": 64},
    {"hidden": 8192, "numtokens": 64},
]
FIELDS = ["hidden", "numtokens"]


@pytest.mark.parametrize(
    ("actual", "expected"),
    [
        # exact matches
        ({"hidden": 2048, "numtokens": 8}, {"hidden": 2048, "numtokens": 8}),
        ({"hidden": 4096, "numtokens": 1}, {"hidden": 4096, "numtokens": 1}),
        ({"hidden": 8192, "numtokens": 64}, {"hidden": 8192, "numtokens": 64}),
        # smallest configured value >= actual, per field
        ({"hidden": 3000, "numtokens": 2}, {"hidden": 4096, "numtokens": 64}),
        ({"hidden": 2048, "numtokens": 9}, {"hidden": 2048, "numtokens": 256}),
        ({"hidden": 1, "numtokens": 1}, {"hidden": 2048, "numtokens": 8}),
        ({"hidden": 4096, "numtokens": 0}, {"hidden": 4096, "numtokens": 1}),
        # larger than everything configured: the largest
        ({"hidden": 16384, "numtokens": 4}, {"hidden": 8192, "numtokens": 64}),
        ({"hidden": 2048, "numtokens": 100000}, {"hidden": 2048, "numtokens": 256}),
        ({"hidden": 100000, "numtokens": 100000}, {"hidden": 8192, "numtokens": 64}),
    ],
)
def test_nearest_key(actual: dict[str, int], expected: dict[str, int]) -> None:
    assert nearest_key(actual, KEYS, FIELDS) == key_id(expected)


def test_nearest_key_single_field() -> None:
    keys = [{"n": 1}, {"n": 8}, {"n": 64}]
    assert nearest_key({"n": 8}, keys, ["n"]) == "n=8"
    assert nearest_key({"n": 9}, keys, ["n"]) == "n=64"
    assert nearest_key({"n": 2}, keys, ["n"]) == "n=8"
    assert nearest_key({"n": 65}, keys, ["n"]) == "n=64"


def test_nearest_key_field_order_decides() -> None:
    keys = [{"hidden": 1024, "numtokens": 64}, {"hidden": 4096, "numtokens": 8}]
    actual = {"hidden": 2000, "numtokens": 50}
    # hidden first: 4096 is the smallest >= 2000, then the only numtokens left.
    assert nearest_key(actual, keys, ["hidden", "numtokens"]) == "hidden=4096,numtokens=8"
    # numtokens first: 64 is the smallest >= 50, then the only hidden left.
    assert nearest_key(actual, keys, ["numtokens", "hidden"]) == "hidden=1024,numtokens=64"


def test_nearest_key_exact_match_beats_field_order() -> None:
    keys = [{"a": 4, "b": 100}, {"a": 8, "b": 1}]
    assert nearest_key({"a": 8, "b": 1}, keys, ["a", "b"]) == "a=8,b=1"
    assert nearest_key({"a": 4, "b": 100}, keys, ["b", "a"]) == "a=4,b=100"


def test_nearest_key_ignores_default_and_other_field_sets() -> None:
    keys = [{}, {"n": 8}, {"n": 64, "extra": 1}, {"hidden": 8}]
    assert nearest_key({"n": 100}, keys, ["n"]) == "n=8"


@pytest.mark.parametrize("keys", [[], [{}], [{"hidden": 8}], [{"n": 8, "hidden": 8}]])
def test_nearest_key_without_keyed_entries_is_none(keys: list[dict[str, Any]]) -> None:
    assert nearest_key({"n": 8}, keys, ["n"]) is None


# ---------------------------------------------------------------- ConfigSelector


def two_args(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return x * w


def entries_for(*keys: dict[str, int | str]) -> dict[str, ConfigEntry]:
    return {key_id(k): ConfigEntry(dict(k), {"num_warps": 4}) for k in keys}


ENTRIES = entries_for(
    {}, {"hidden": 32, "numtokens": 4}, {"hidden": 32, "numtokens": 16}, {"hidden": 128, "numtokens": 16}
)
KEY_SPEC = {"hidden": ("x", -1), "numtokens": ("x", 0)}


def args(tokens: int, hidden: int) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(tokens, hidden), torch.randn(hidden)


@pytest.mark.parametrize(
    ("tokens", "hidden", "expected"),
    [
        (4, 32, "hidden=32,numtokens=4"),
        (16, 32, "hidden=32,numtokens=16"),
        (5, 32, "hidden=32,numtokens=16"),
        (1, 32, "hidden=32,numtokens=4"),
        (100, 32, "hidden=32,numtokens=16"),
        (2, 64, "hidden=128,numtokens=16"),
        (2, 4096, "hidden=128,numtokens=16"),
    ],
)
def test_selector_keys_read_tensor_dims(tokens: int, hidden: int, expected: str) -> None:
    selector = ConfigSelector("sel_op", two_args, ENTRIES, keys=KEY_SPEC)
    assert selector.select(args(tokens, hidden)) == expected


def test_selector_keys_read_the_named_argument() -> None:
    # The key reads w's only dimension, whatever x's shape is.
    selector = ConfigSelector(
        "sel_op", two_args, entries_for({"n": 4}, {"n": 64}), keys={"n": ("w", 0)}
    )
    x = torch.randn(64, 3)
    assert selector.select((x, torch.randn(3))) == "n=4"
    assert selector.select((x, torch.randn(5))) == "n=64"


def test_selector_keys_without_keyed_entries_is_default() -> None:
    selector = ConfigSelector("sel_op", two_args, entries_for({}), keys=KEY_SPEC)
    assert selector.select(args(4, 32)) == "default"
    selector = ConfigSelector("sel_op", two_args, {}, keys=KEY_SPEC)
    assert selector.select(args(4, 32)) == "default"


def test_selector_without_keys_or_picker_is_default() -> None:
    assert ConfigSelector("sel_op", two_args, ENTRIES).select(args(4, 32)) == "default"


def test_selector_keys_naming_unknown_argument() -> None:
    expected = r"op 'sel_op': keys\['hidden'\] names argument 'y', which the kernel does not have; expected one of \['x', 'w'\]"
    with pytest.raises(InvalidSettingsError, match=expected):
        ConfigSelector("sel_op", two_args, ENTRIES, keys={"hidden": ("y", -1)})


def test_selector_keys_reading_a_non_tensor() -> None:
    selector = ConfigSelector("sel_op", two_args, ENTRIES, keys={"hidden": ("w", 0)})
    with pytest.raises(TypeError, match=r"key field 'hidden' reads a tensor dimension, found float"):
        selector.select((torch.randn(2, 2), 1.5))


def test_picker_returning_a_key_dict() -> None:
    seen: list[tuple[tuple[Any, ...], list[dict[str, Any]]]] = []

    def picker(call_args: tuple[Any, ...], keys: list[dict[str, Any]]) -> dict[str, Any]:
        seen.append((call_args, keys))
        x = call_args[0]
        return {"numtokens": 16 if x.shape[0] > 4 else 4, "hidden": 32}

    selector = ConfigSelector("sel_op", two_args, ENTRIES, config_picker=picker)
    small, large = args(3, 32), args(9, 32)
    assert selector.select(small) == "hidden=32,numtokens=4"
    assert selector.select(large) == "hidden=32,numtokens=16"
    # The picker gets the call's arguments and every entry's key dict.
    assert seen[0][0] is small and seen[1][0] is large
    assert sorted(key_id(k) for k in seen[0][1]) == sorted(ENTRIES)


def test_picker_keys_are_copies() -> None:
    def picker(call_args: tuple[Any, ...], keys: list[dict[str, Any]]) -> None:
        for k in keys:
            k["tampered"] = 1
        return None

    selector = ConfigSelector("sel_op", two_args, ENTRIES, config_picker=picker)
    selector.select(args(4, 32))
    assert all("tampered" not in e.key for e in selector.entries.values())
    assert all("tampered" not in e.key for e in ENTRIES.values())


def test_picker_returning_a_key_id_string() -> None:
    selector = ConfigSelector("sel_op", two_args, ENTRIES, config_picker=lambda a, k: "hidden=128,numtokens=16")
    assert selector.select(args(4, 32)) == "hidden=128,numtokens=16"


def test_picker_returning_none_is_default() -> None:
    selector = ConfigSelector("sel_op", two_args, ENTRIES, config_picker=lambda a, k: None)
    assert selector.select(args(4, 32)) == "default"
    # Also when no entry exists at all (the missing-config policy decides later).
    assert ConfigSelector("sel_op", two_args, {}, config_picker=lambda a, k: None).select(args(4, 32)) == "default"


def test_picker_takes_precedence_over_keys() -> None:
    selector = ConfigSelector(
        "sel_op", two_args, ENTRIES, keys=KEY_SPEC, config_picker=lambda a, k: {"hidden": 128, "numtokens": 16}
    )
    assert selector.select(args(4, 32)) == "hidden=128,numtokens=16"


@pytest.mark.parametrize("picked", [{"hidden": 64, "numtokens": 4}, "hidden=64,numtokens=4"])
def test_picker_returning_unknown_key(picked: object) -> None:
    selector = ConfigSelector("sel_op", two_args, ENTRIES, config_picker=lambda a, k: picked)
    available = re.escape(str(sorted(ENTRIES)))
    with pytest.raises(
        UnknownConfigKeyError,
        match=rf"op 'sel_op': config_picker returned key 'hidden=64,numtokens=4', .*available keys: {available}",
    ):
        selector.select(args(4, 32))


def test_picker_returning_default_without_default_entry() -> None:
    entries = entries_for({"n": 8})
    selector = ConfigSelector("sel_op", two_args, entries, config_picker=lambda a, k: "default")
    with pytest.raises(UnknownConfigKeyError, match=r"returned key 'default'.*available keys: \['n=8'\]"):
        selector.select(args(4, 32))
