"""ConfigStore: vLLM's file layout, layering, atomic merging writes, validation."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from helion_ops.core import (
    CONFIG_DIR_ENV_VAR,
    ConfigEntry,
    ConfigFileError,
    ConfigPathError,
    ConfigStore,
    ConfigStoreWriteError,
    _atomic_write,
    _config_entries,
    key_id,
)

OP = "my_op"
PLATFORM = "nvidia_h100"


def write_json(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def entries_file(directory: Path, data: object, op: str = OP, platform: str = PLATFORM) -> Path:
    return write_json(directory / op / f"{platform}.json", data)


@pytest.fixture(autouse=True)
def _no_user_config_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CONFIG_DIR_ENV_VAR, raising=False)


# ---------------------------------------------------------------- key ids


def test_key_id_is_sorted_and_default_for_empty() -> None:
    assert key_id({}) == "default"
    assert key_id({"numtokens": 8, "hidden": 4096}) == "hidden=4096,numtokens=8"
    assert key_id({"hidden": 4096, "numtokens": 8}) == key_id({"numtokens": 8, "hidden": 4096})


# ---------------------------------------------------------------- round trip


def test_round_trip(tmp_path: Path) -> None:
    store = ConfigStore([tmp_path])
    entries = [
        ConfigEntry({"hidden": 4096, "numtokens": 8}, {"block_sizes": [8], "num_warps": 4}),
        ConfigEntry({}, {"block_sizes": [1], "num_warps": 8, "num_stages": 2}),
        ConfigEntry({"hidden": 2048, "numtokens": 1}, {"block_sizes": [2]}, {"provenance": {"by": "test"}}),
    ]
    path = store.write(OP, PLATFORM, entries)
    assert path == tmp_path / OP / f"{PLATFORM}.json"

    loaded = store.load(OP, PLATFORM)
    assert loaded == {e.key_id: e for e in entries}
    # The extra fields (provenance) survive the round trip.
    assert loaded["hidden=2048,numtokens=1"].extra == {"provenance": {"by": "test"}}

    on_disk = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(on_disk, list)
    assert on_disk[0]["key"] == {}
    assert on_disk[0]["config"] == {"block_sizes": [1], "num_warps": 8, "num_stages": 2}
    assert sorted(key_id(e["key"]) for e in on_disk) == sorted(e.key_id for e in entries)


def test_default_entry_first_even_when_written_last(tmp_path: Path) -> None:
    store = ConfigStore([tmp_path])
    # "batch=1" sorts before "default": the default entry is first by rule, not by name.
    store.write(OP, PLATFORM, [ConfigEntry({"n": 1}, {"num_warps": 1}), ConfigEntry({"batch": 1}, {"num_warps": 1})])
    store.write(OP, PLATFORM, [ConfigEntry({}, {"num_warps": 2})])
    on_disk = json.loads((tmp_path / OP / f"{PLATFORM}.json").read_text(encoding="utf-8"))
    assert on_disk[0]["key"] == {}
    assert sorted(key_id(e["key"]) for e in on_disk[1:]) == ["batch=1", "n=1"]


def test_load_missing_file_is_empty(tmp_path: Path) -> None:
    assert ConfigStore([tmp_path]).load(OP, PLATFORM) == {}
    assert ConfigStore([tmp_path / "does-not-exist"]).load(OP, PLATFORM) == {}


# ---------------------------------------------------------------- merge


def test_write_merges_with_existing_entries(tmp_path: Path) -> None:
    store = ConfigStore([tmp_path])
    store.write(
        OP,
        PLATFORM,
        [
            ConfigEntry({}, {"num_warps": 4}),
            ConfigEntry({"n": 8}, {"block_sizes": [8]}, {"note": "old"}),
            ConfigEntry({"n": 64}, {"block_sizes": [64]}),
        ],
    )
    store.write(
        OP,
        PLATFORM,
        [ConfigEntry({"n": 8}, {"block_sizes": [4]}, {"note": "new"}), ConfigEntry({"n": 256}, {"block_sizes": [32]})],
    )
    loaded = store.load(OP, PLATFORM)
    assert sorted(loaded) == ["default", "n=256", "n=64", "n=8"]
    # Same key: replaced, extras included.
    assert loaded["n=8"].config == {"block_sizes": [4]}
    assert loaded["n=8"].extra == {"note": "new"}
    # Other keys: kept as they were.
    assert loaded["default"].config == {"num_warps": 4}
    assert loaded["n=64"].config == {"block_sizes": [64]}
    assert loaded["n=256"].config == {"block_sizes": [32]}


def test_write_validates_new_entries_and_keeps_file(tmp_path: Path) -> None:
    store = ConfigStore([tmp_path])
    store.write(OP, PLATFORM, [ConfigEntry({}, {"num_warps": 4})])
    before = (tmp_path / OP / f"{PLATFORM}.json").read_text(encoding="utf-8")
    with pytest.raises(ConfigFileError, match=r"new entry 0, field 'not_a_field'"):
        store.write(OP, PLATFORM, [ConfigEntry({}, {"not_a_field": 1})])
    assert (tmp_path / OP / f"{PLATFORM}.json").read_text(encoding="utf-8") == before


def test_write_into_another_directory(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    store = ConfigStore([first, second])
    path = store.write(OP, PLATFORM, [ConfigEntry({}, {"num_warps": 2})], directory=second)
    assert path == second / OP / f"{PLATFORM}.json"
    assert not (first / OP).exists()
    assert store.load(OP, PLATFORM)["default"].config == {"num_warps": 2}


# ---------------------------------------------------------------- layering


def test_first_directory_wins_per_key(tmp_path: Path) -> None:
    user, shipped = tmp_path / "user", tmp_path / "shipped"
    entries_file(
        shipped,
        [
            {"key": {}, "config": {"num_warps": 4}},
            {"key": {"n": 8}, "config": {"block_sizes": [8]}},
            {"key": {"n": 64}, "config": {"block_sizes": [64]}},
        ],
    )
    entries_file(
        user,
        [{"key": {"n": 8}, "config": {"block_sizes": [2]}}, {"key": {"n": 1}, "config": {"block_sizes": [1]}}],
    )

    loaded = ConfigStore([user, shipped]).load(OP, PLATFORM)
    assert sorted(loaded) == ["default", "n=1", "n=64", "n=8"]
    assert loaded["n=8"].config == {"block_sizes": [2]}  # user wins
    assert loaded["n=64"].config == {"block_sizes": [64]}  # shipped, not overridden
    assert loaded["default"].config == {"num_warps": 4}
    assert loaded["n=1"].config == {"block_sizes": [1]}

    # Swap the order: shipped wins now.
    assert ConfigStore([shipped, user]).load(OP, PLATFORM)["n=8"].config == {"block_sizes": [8]}


def test_env_var_directories_are_layered_above_shipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_a, env_b, shipped, user = (tmp_path / n for n in ("env_a", "env_b", "shipped", "user"))
    entries_file(shipped, [{"key": {}, "config": {"num_warps": 1}}, {"key": {"n": 8}, "config": {"num_warps": 1}}])
    entries_file(env_b, [{"key": {}, "config": {"num_warps": 2}}, {"key": {"n": 16}, "config": {"num_warps": 2}}])
    entries_file(env_a, [{"key": {"n": 16}, "config": {"num_warps": 4}}])
    entries_file(user, [{"key": {"n": 16}, "config": {"num_warps": 8}}])
    monkeypatch.setenv(CONFIG_DIR_ENV_VAR, os.pathsep.join([str(env_a), "", str(env_b)]))

    store = ConfigStore.layered([shipped])
    assert store.directories == [env_a, env_b, shipped]
    loaded = store.load(OP, PLATFORM)
    assert loaded["default"].config == {"num_warps": 2}  # env_b over shipped
    assert loaded["n=16"].config == {"num_warps": 4}  # env_a over env_b
    assert loaded["n=8"].config == {"num_warps": 1}  # only shipped has it

    # Directories given by the caller come above the environment's.
    with_user = ConfigStore.layered([shipped], user=[user])
    assert with_user.directories == [user, env_a, env_b, shipped]
    assert with_user.load(OP, PLATFORM)["n=16"].config == {"num_warps": 8}


def test_no_env_var_means_shipped_only(tmp_path: Path) -> None:
    assert ConfigStore.layered([tmp_path]).directories == [tmp_path]


def test_write_goes_to_the_first_directory(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    ConfigStore([first, second]).write(OP, PLATFORM, [ConfigEntry({}, {"num_warps": 2})])
    assert (first / OP / f"{PLATFORM}.json").is_file()
    assert not second.exists()


# ---------------------------------------------------------------- atomic writes


def test_atomic_write_leaves_no_temp_files(tmp_path: Path) -> None:
    store = ConfigStore([tmp_path])
    for n in (1, 2, 3):
        store.write(OP, PLATFORM, [ConfigEntry({"n": n}, {"num_warps": n})])
    assert sorted(p.name for p in (tmp_path / OP).iterdir()) == [f"{PLATFORM}.json"]


def test_failed_replace_keeps_old_file_and_removes_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = ConfigStore([tmp_path])
    path = store.write(OP, PLATFORM, [ConfigEntry({}, {"num_warps": 4})])
    before = path.read_text(encoding="utf-8")

    def failing_replace(src: object, dst: object) -> None:
        raise OSError("disk on fire")

    with monkeypatch.context() as patch:
        patch.setattr(_atomic_write.os, "replace", failing_replace)
        with pytest.raises(ConfigStoreWriteError, match=rf"op '{OP}': cannot write {re.escape(str(path))}: disk on fire"):
            store.write(OP, PLATFORM, [ConfigEntry({"n": 1}, {"num_warps": 8})])
    assert path.read_text(encoding="utf-8") == before
    assert sorted(p.name for p in (tmp_path / OP).iterdir()) == [f"{PLATFORM}.json"]


@pytest.mark.parametrize("failing", ["write", "fsync"])
def test_failed_write_after_mkstemp_is_a_write_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str) -> None:
    # ENOSPC while writing or syncing the temp file: ConfigStoreWriteError
    # naming op, path and cause; the temp file is removed, the old file kept.
    store = ConfigStore([tmp_path])
    path = store.write(OP, PLATFORM, [ConfigEntry({}, {"num_warps": 4})])
    before = path.read_text(encoding="utf-8")

    def no_space(*args: object) -> None:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        if failing == "fsync":
            patch.setattr(_atomic_write.os, "fsync", no_space)
        else:
            patch.setattr(_atomic_write.os, "fdopen", lambda fd, *a, **k: _FailingFile(fd, no_space))
        with pytest.raises(ConfigStoreWriteError) as info:
            store.write(OP, PLATFORM, [ConfigEntry({"n": 1}, {"num_warps": 8})])
    message = str(info.value)
    assert f"op '{OP}'" in message and str(path) in message and "No space left on device" in message
    assert isinstance(info.value.__cause__, OSError)
    assert path.read_text(encoding="utf-8") == before
    assert sorted(p.name for p in (tmp_path / OP).iterdir()) == [f"{PLATFORM}.json"]


class _FailingFile:
    """A file object whose write fails; closes the real descriptor on exit."""

    def __init__(self, fd: int, fail: object) -> None:
        self.fd, self.fail = fd, fail

    def __enter__(self) -> _FailingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)

    def write(self, text: str) -> int:
        self.fail()  # type: ignore[operator]
        return 0


def test_unwritable_directory_raises_write_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("a regular file, not a directory", encoding="utf-8")
    store = ConfigStore([blocker / "sub"])
    with pytest.raises(ConfigStoreWriteError, match=re.escape(str(blocker / "sub" / OP))):
        store.write(OP, PLATFORM, [ConfigEntry({}, {"num_warps": 4})])
    assert blocker.read_text(encoding="utf-8") == "a regular file, not a directory"


def test_write_error_is_an_oserror(tmp_path: Path) -> None:
    assert issubclass(ConfigStoreWriteError, OSError)


# ---------------------------------------------------------------- invalid files


def load_file(tmp_path: Path, text: str) -> dict[str, ConfigEntry]:
    path = tmp_path / OP / f"{PLATFORM}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return ConfigStore([tmp_path]).load(OP, PLATFORM)


def file_re(tmp_path: Path) -> str:
    return re.escape(str(tmp_path / OP / f"{PLATFORM}.json"))


def test_invalid_json(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError, match=file_re(tmp_path) + r": not valid JSON .*line 1"):
        load_file(tmp_path, '[{"key": {}, "config": {}')


def test_top_level_not_a_list(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError, match=file_re(tmp_path) + r": expected a JSON list .*found dict"):
        load_file(tmp_path, json.dumps({"key": {}, "config": {}}))


def test_entry_missing_config(tmp_path: Path) -> None:
    text = json.dumps([{"key": {}, "config": {}}, {"key": {"n": 8}}])
    expected = file_re(tmp_path) + r", entry 1: expected an object with 'key' and 'config'"
    with pytest.raises(ConfigFileError, match=expected):
        load_file(tmp_path, text)


def test_entry_not_an_object(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError, match=r"entry 0: expected an object with 'key' and 'config'"):
        load_file(tmp_path, json.dumps([[1, 2]]))


def test_unknown_config_field_names_file_entry_and_field(tmp_path: Path) -> None:
    text = json.dumps(
        [
            {"key": {}, "config": {"num_warps": 4}},
            {"key": {"n": 1}, "config": {"block_sizes": [1]}},
            {"key": {"n": 2}, "config": {"num_warps": 4, "num_wraps": 8}},
        ]
    )
    with pytest.raises(
        ConfigFileError,
        match=file_re(tmp_path) + r", entry 2, field 'num_wraps': unknown helion\.Config field.*num_warps",
    ):
        load_file(tmp_path, text)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("num_warps", "four"),
        ("num_warps", 4.0),
        ("num_warps", True),
        ("num_warps", -4),
        ("num_warps", 2**40),
        ("block_sizes", "8"),
        ("block_sizes", 4),
        ("block_sizes", [16, "32"]),
        ("block_sizes", [True]),
        ("block_sizes", [None]),
        ("num_stages", [2]),
        ("maxnreg", "lots"),
        ("maxnreg", [128]),
        ("pid_type", "diagonal"),
        ("indexing", ["pointer", "teleport"]),
        ("indexing", 1),
        ("reduction_loops", [[8]]),
        ("static_ranges", [1]),
        ("load_eviction_policies", "middle"),
        ("advanced_controls_file", 0),
    ],
)
def test_wrong_field_type(tmp_path: Path, field: str, value: object) -> None:
    text = json.dumps([{"key": {}, "config": {field: value}}])
    with pytest.raises(ConfigFileError, match=file_re(tmp_path) + rf", entry 0, field '{field}': expected .*found"):
        load_file(tmp_path, text)


def test_config_not_an_object(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError, match=r"entry 0: 'config' must be an object.*found list"):
        load_file(tmp_path, json.dumps([{"key": {}, "config": [4]}]))


@pytest.mark.parametrize(
    "config",
    [
        {"block_sizes": [16, 32], "num_warps": 4, "num_stages": None, "indexing": "pointer"},
        {"block_sizes": [], "indexing": ["pointer", "tensor_descriptor"], "pid_type": "persistent_blocked"},
        {"maxnreg": 128, "reduction_loops": [None, 64], "range_warp_specializes": [True, None]},
        {"num_threads": 128, "loop_orders": [[1, 0]], "load_eviction_policies": ["", "first", "last"]},
        {"num_threads": [32, 4], "load_eviction_policies": "last", "advanced_controls_file": ""},
        {"num_warps": 0, "num_stages": 2**31 - 1},
    ],
)
def test_valid_field_types_are_accepted(tmp_path: Path, config: dict[str, object]) -> None:
    loaded = load_file(tmp_path, json.dumps([{"key": {}, "config": config}]))
    assert loaded["default"].config == config


def test_null_maxnreg_is_accepted(tmp_path: Path) -> None:
    # helion.Config(maxnreg=None) is valid: None is maxnreg's default.
    loaded = load_file(tmp_path, json.dumps([{"key": {}, "config": {"maxnreg": None}}]))
    assert loaded["default"].config == {"maxnreg": None}


def test_duplicate_keys(tmp_path: Path) -> None:
    text = json.dumps(
        [
            {"key": {"hidden": 4096, "n": 8}, "config": {"num_warps": 4}},
            {"key": {}, "config": {}},
            {"key": {"n": 8, "hidden": 4096}, "config": {"num_warps": 8}},
        ]
    )
    with pytest.raises(
        ConfigFileError, match=file_re(tmp_path) + r", entry 2: duplicate key 'hidden=4096,n=8' \(also entry 0\)"
    ):
        load_file(tmp_path, text)


@pytest.mark.parametrize("value", [8.0, 8.5, True, None, [8]])
def test_key_value_must_be_int_or_string(tmp_path: Path, value: object) -> None:
    text = json.dumps([{"key": {"n": value}, "config": {}}])
    expected = file_re(tmp_path) + r", entry 0, key field 'n': expected an int or a string"
    with pytest.raises(ConfigFileError, match=expected):
        load_file(tmp_path, text)


def test_key_not_an_object(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError, match=r"entry 0: 'key' must be an object, found list"):
        load_file(tmp_path, json.dumps([{"key": [8], "config": {}}]))


def test_string_key_values_are_accepted(tmp_path: Path) -> None:
    loaded = load_file(tmp_path, json.dumps([{"key": {"dtype": "bf16", "n": 8}, "config": {}}]))
    assert list(loaded) == ["dtype=bf16,n=8"]


def test_file_too_large(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = json.dumps([{"key": {}, "config": {"num_warps": 4}}])
    assert len(text) > 16
    monkeypatch.setattr(_config_entries, "MAX_CONFIG_FILE_BYTES", 16)
    with pytest.raises(ConfigFileError, match=file_re(tmp_path) + rf": {len(text)} bytes, more than the 16 allowed"):
        load_file(tmp_path, text)
    monkeypatch.setattr(_config_entries, "MAX_CONFIG_FILE_BYTES", len(text))
    assert ConfigStore([tmp_path]).load(OP, PLATFORM)["default"].config == {"num_warps": 4}


def test_invalid_file_in_lower_layer_is_reported(tmp_path: Path) -> None:
    user, shipped = tmp_path / "user", tmp_path / "shipped"
    entries_file(user, [{"key": {}, "config": {}}])
    (shipped / OP).mkdir(parents=True)
    (shipped / OP / f"{PLATFORM}.json").write_text("not json", encoding="utf-8")
    with pytest.raises(ConfigFileError, match=re.escape(str(shipped / OP / f"{PLATFORM}.json"))):
        ConfigStore([user, shipped]).load(OP, PLATFORM)


def test_file_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / OP / f"{PLATFORM}.json"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"[\xff\xfe]")
    with pytest.raises(ConfigFileError, match=file_re(tmp_path) + ": cannot be read"):
        ConfigStore([tmp_path]).load(OP, PLATFORM)


# ---------------------------------------------------------------- path names


@pytest.mark.parametrize("bad", ["a/b", "../evil", "..", "a..b", ".", "", "/abs", "a\\b", "x" * 200])
def test_bad_op_names(tmp_path: Path, bad: str) -> None:
    store = ConfigStore([tmp_path])
    with pytest.raises(ConfigPathError, match=r"op .* is not a valid config name"):
        store.load(bad, PLATFORM)
    with pytest.raises(ConfigPathError, match=r"op .* is not a valid config name"):
        store.write(bad, PLATFORM, [ConfigEntry({}, {})])
    with pytest.raises(ConfigPathError, match=r"op .* is not a valid config name"):
        store.platforms(bad)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("bad", ["nvidia/h100", "../cpu", "..", "cpu..x"])
def test_bad_platform_names(tmp_path: Path, bad: str) -> None:
    store = ConfigStore([tmp_path])
    with pytest.raises(ConfigPathError, match=r"platform .* is not a valid config name"):
        store.load(OP, bad)
    with pytest.raises(ConfigPathError, match=r"platform .* is not a valid config name"):
        store.write(OP, bad, [ConfigEntry({}, {})])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("good", ["rms_norm", "fused-add.rms_norm", "v2", "_private"])
def test_good_names(tmp_path: Path, good: str) -> None:
    path = ConfigStore([tmp_path]).write(good, good, [ConfigEntry({}, {})])
    assert path == tmp_path / good / f"{good}.json"


# ---------------------------------------------------------------- listing


def test_platforms_and_ops(tmp_path: Path) -> None:
    user, shipped = tmp_path / "user", tmp_path / "shipped"
    entries_file(shipped, [], op="op_a", platform="nvidia_h100")
    entries_file(shipped, [], op="op_a", platform="nvidia_h200")
    entries_file(user, [], op="op_a", platform="nvidia_h100")
    entries_file(user, [], op="op_a", platform="cpu")
    entries_file(user, [], op="op_b", platform="nvidia_b200")
    (shipped / "op_a" / "README.md").write_text("not a config", encoding="utf-8")
    (shipped / "stray.json").write_text("[]", encoding="utf-8")

    store = ConfigStore([user, shipped, tmp_path / "missing"])
    assert store.platforms("op_a") == ["cpu", "nvidia_h100", "nvidia_h200"]
    assert store.platforms("op_b") == ["nvidia_b200"]
    assert store.platforms("op_c") == []
    assert store.ops() == ["op_a", "op_b"]
    assert ConfigStore([tmp_path / "missing"]).ops() == []
