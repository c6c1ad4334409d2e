"""ConfigStore under hypothesis: config files and names are untrusted input.

Every example runs in a fresh sandbox: ``configs/`` (the configured
directory) beside ``outside/``, which holds bait (valid config files under
the names a traversal would reach). For every input the store either works
or raises a ConfigFileError / ConfigPathError / ConfigStoreWriteError whose
message names the file or the bad name; any other exception fails the test.
Accepted entries are accepted by ``helion.Config`` too. An audit hook records
every path the store opens, lists, creates, renames or removes while it runs:
each must resolve (symlinks followed) inside the configured directory, and
the sandbox outside ``configs/`` must be byte-for-byte unchanged.

Run with ``--hypothesis-show-statistics`` to see the examples each test ran.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import os
import shutil
import string
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import helion
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from helion_ops.core import ConfigEntry, ConfigFileError, ConfigPathError, ConfigStore, _config_entries

OP = "fuzz_op"
PLATFORM = "nvidia_h100"
VALID_CONFIG = {"block_sizes": [8], "num_warps": 4}


def fuzz_settings(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples,
        deadline=None,
        database=None,  # nothing written beside the repository
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


# Outcome of every example and deterministic case, printed at the end of the
# module (``-s``) and shown per test by ``--hypothesis-show-statistics``.
OUTCOMES: collections.Counter[str] = collections.Counter()


def note(outcome: str) -> None:
    OUTCOMES[outcome] += 1
    if currently_in_test_context():
        event(outcome)


@pytest.fixture(scope="module", autouse=True)
def _print_outcomes() -> Iterator[None]:
    yield
    print(f"\nconfig store fuzz outcomes: {sum(OUTCOMES.values())} cases: {dict(sorted(OUTCOMES.items()))}")


# ---------------------------------------------------------------- where the store goes

# Audit events carrying paths the store would touch: event -> positions of path arguments.
_PATH_EVENTS = {
    "open": (0,),
    "os.rename": (0, 1),
    "os.remove": (0,),
    "os.rmdir": (0,),
    "os.mkdir": (0,),
    "os.listdir": (0,),
    "os.scandir": (0,),
    "os.chmod": (0,),
    "os.chown": (0,),
    "os.truncate": (0,),
    "os.utime": (0,),
    "os.link": (0, 1),
    "os.symlink": (0, 1),
}
_log: list[tuple[str, str]] | None = None


def _audit(event: str, args: tuple[Any, ...]) -> None:
    log = _log
    if log is None or event not in _PATH_EVENTS:
        return
    for index in _PATH_EVENTS[event]:
        if index < len(args) and isinstance(args[index], (str, bytes, os.PathLike)):
            log.append((event, os.fsdecode(args[index])))


# Audit hooks cannot be removed: this one records only inside ``confined``.
sys.addaudithook(_audit)


class Sandbox:
    """``root/configs`` (the store's directory) and ``root/outside`` (bait)."""

    def __init__(self, base: Path) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="sandbox-", dir=base))
        self.configs = self.root / "configs"
        self.configs.mkdir()
        self.outside = self.root / "outside"
        bait = json.dumps([{"key": {}, "config": {"num_warps": 32}}])
        for relative in ("secret.json", f"{OP}/{PLATFORM}.json", f"{PLATFORM}.json", f"{OP}/outside.json"):
            path = self.outside / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(bait, encoding="utf-8")
        self.store = ConfigStore([self.configs])
        self._before = self.outside_state()

    @property
    def file(self) -> Path:
        return self.configs / OP / f"{PLATFORM}.json"

    def write_file(self, data: bytes | str) -> Path:
        self.file.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogatepass")
        self.file.write_bytes(data)
        return self.file

    def outside_state(self) -> dict[str, object]:
        """Every entry under root except configs/: type and content (files hashed)."""
        state: dict[str, object] = {}
        for dirpath, dirnames, filenames in os.walk(self.root, followlinks=False):
            here = Path(dirpath)
            if here == self.root:
                dirnames[:] = [d for d in dirnames if d != "configs"]
            for name in dirnames + filenames:
                path = here / name
                rel = str(path.relative_to(self.root))
                if path.is_symlink():
                    state[rel] = ("link", os.readlink(path))
                elif path.is_dir():
                    state[rel] = ("dir",)
                else:
                    state[rel] = ("file", hashlib.sha256(path.read_bytes()).hexdigest())
        return state

    @contextlib.contextmanager
    def confined(self) -> Iterator[None]:
        """Record the store's file accesses; all must stay inside configs/."""
        global _log
        log: list[tuple[str, str]] = []
        _log = log
        try:
            yield
        finally:
            _log = None
        inside = os.path.realpath(self.configs)
        for audit_event, path in log:
            real = os.path.realpath(path)
            assert real == inside or real.startswith(inside + os.sep), f"{audit_event} {path!r} -> {real!r} leaves {inside}"
        assert self.outside_state() == self._before, "something outside configs/ changed"

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="module")
def sandboxes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    base = tmp_path_factory.mktemp("config-fuzz")
    _config_entries.helion_config_fields()  # imports helion's config module before recording starts

    @contextlib.contextmanager
    def make() -> Iterator[Sandbox]:
        box = Sandbox(base)
        try:
            yield box
        finally:
            box.close()

    yield make


def assert_usable(entries: dict[str, ConfigEntry]) -> None:
    """What the store accepts, Helion accepts (and the store can write back)."""
    for entry in entries.values():
        helion.Config(**entry.config)
        json.dumps(entry.to_json(), allow_nan=False)


def load_or_refuse(box: Sandbox) -> dict[str, ConfigEntry] | None:
    """Load the sandbox's file: entries, or None after a ConfigFileError naming it."""
    with box.confined():
        try:
            entries = box.store.load(OP, PLATFORM)
        except ConfigFileError as exc:
            assert str(box.file) in str(exc), str(exc)
            note("outcome: ConfigFileError naming the file")
            return None
    assert_usable(entries)
    note("outcome: loaded, entries usable")
    return entries


# ---------------------------------------------------------------- strategies

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
FIELDS = sorted(_config_entries.helion_config_fields())
field_names = st.sampled_from(FIELDS) | st.text(max_size=10)
# Values near what config fields hold, plus anything JSON.
field_values = (
    st.integers(min_value=-2, max_value=2**32)
    | st.lists(st.integers(min_value=-1, max_value=4096), max_size=4)
    | st.lists(st.lists(st.integers(min_value=0, max_value=3), max_size=3), max_size=3)
    | st.sampled_from(["", "first", "last", "pointer", "flat", "xyz", "/etc/passwd", "--x"])
    | st.lists(st.sampled_from(["", "first", "pointer", "tensor_descriptor", None, True]), max_size=3)
    | json_values
)
configs = st.dictionaries(field_names, field_values, max_size=4)
keys = st.dictionaries(st.text(max_size=8), st.integers(min_value=-(2**64), max_value=2**64) | st.text(max_size=6) | json_values, max_size=3)
entries = st.lists(
    st.fixed_dictionaries({"key": keys | json_values, "config": configs | json_values}, optional={"provenance": json_values, "extra": json_values}),
    max_size=4,
)
valid_entries = st.lists(
    st.builds(
        lambda tokens, warps: {"key": {"numtokens": tokens}, "config": {"block_sizes": [warps], "num_warps": warps}},
        st.integers(min_value=1, max_value=1 << 20),
        st.sampled_from([1, 2, 4, 8]),
    ),
    min_size=1,
    max_size=6,
    unique_by=lambda e: e["key"]["numtokens"],
)


# ---------------------------------------------------------------- file contents


@fuzz_settings(400)
@given(data=st.binary(max_size=512))
def test_random_bytes(sandboxes: Any, data: bytes) -> None:
    with sandboxes() as box:
        box.write_file(data)
        load_or_refuse(box)


@fuzz_settings(400)
@given(value=json_values)
def test_random_json_values(sandboxes: Any, value: object) -> None:
    with sandboxes() as box:
        box.write_file(json.dumps(value))
        loaded = load_or_refuse(box)
        if loaded is not None:
            assert isinstance(value, list) and len(loaded) == len(value)


@fuzz_settings(500)
@given(data=entries)
def test_entry_shaped_json_wrong_types_and_unknown_fields(sandboxes: Any, data: list[dict[str, Any]]) -> None:
    """Entries with random keys, config fields (known and unknown) of random types
    and extra fields: accepted ones round-trip through a write, refused ones name
    the file (and, for a field, the field)."""
    with sandboxes() as box:
        box.write_file(json.dumps(data))
        loaded = load_or_refuse(box)
        if loaded is None:
            return
        with box.confined():
            box.store.write("copy", PLATFORM, loaded.values())
            assert box.store.load("copy", PLATFORM) == loaded


def _mutate(text: str, kind: str, at: int, char: str) -> str:
    at = at % (len(text) + 1)
    if kind == "truncate":
        return text[:at]
    if kind == "delete":
        return text[:at] + text[at + 1 :]
    if kind == "insert":
        return text[:at] + char + text[at:]
    if kind == "replace":
        return text[:at] + char + text[at + 1 :]
    lines = text.splitlines(keepends=True)  # "duplicate-line"
    line = at % max(len(lines), 1)
    return "".join(lines[: line + 1] + lines[line:])


@fuzz_settings(500)
@given(
    data=valid_entries,
    mutations=st.lists(
        st.tuples(
            st.sampled_from(["truncate", "delete", "insert", "replace", "duplicate-line"]),
            st.integers(min_value=0, max_value=10_000),
            st.sampled_from(list('{}[]",:0-9 \n\\') + ["\x00", "\ud800", "\u00e9", "1e999", "NaN", "Infinity", "null"]),
        ),
        min_size=1,
        max_size=3,
    ),
)
def test_corrupted_valid_files(sandboxes: Any, data: list[dict[str, Any]], mutations: list[tuple[str, int, str]]) -> None:
    """A file the store wrote, then damaged (truncated, bytes dropped, inserted,
    replaced, lines repeated): loads to valid entries or gives a ConfigFileError."""
    text = json.dumps(data, indent=2)
    for kind, at, char in mutations:
        text = _mutate(text, kind, at, char)
    with sandboxes() as box:
        box.write_file(text)
        load_or_refuse(box)


def _object_text(members: list[tuple[str, str]]) -> str:
    return "{" + ", ".join(f"{json.dumps(name)}: {value}" for name, value in members) + "}"


@fuzz_settings(300)
@given(
    data=valid_entries,
    where=st.sampled_from(["entry", "config", "key"]),
    index=st.integers(min_value=0, max_value=5),
    value=json_values,
)
def test_duplicate_names_are_refused(sandboxes: Any, data: list[dict[str, Any]], where: str, index: int, value: object) -> None:
    """An object with a name twice (entry, its config or its key): refused,
    naming the duplicated name, whatever the second value."""
    index %= len(data)
    texts = []
    for i, entry in enumerate(data):
        config = [(k, json.dumps(v)) for k, v in entry["config"].items()]
        key = [(k, json.dumps(v)) for k, v in entry["key"].items()]
        members = [("key", _object_text(key)), ("config", _object_text(config))]
        if i == index:
            duplicate = {"entry": members, "config": config, "key": key}[where]
            name = duplicate[0][0]
            duplicate.append((name, json.dumps(value)))
            members = [("key", _object_text(key)), ("config", _object_text(config))]
            if where == "entry":
                members.append((name, json.dumps(value)))
        texts.append(_object_text(members))
    with sandboxes() as box:
        box.write_file("[" + ",\n".join(texts) + "]")
        with box.confined(), pytest.raises(ConfigFileError, match=r"more than once") as info:
            box.store.load(OP, PLATFORM)
        assert str(box.file) in str(info.value)
        note("outcome: ConfigFileError naming the file")


# ---------------------------------------------------------------- sizes and nesting


@fuzz_settings(150)
@given(limit=st.integers(min_value=64, max_value=4096), delta=st.integers(min_value=-8, max_value=64))
def test_files_over_the_size_limit_are_refused(sandboxes: Any, limit: int, delta: int) -> None:
    """Valid JSON padded to limit + delta bytes: loads up to the limit, refused past it."""
    body = json.dumps([{"key": {}, "config": VALID_CONFIG}])
    size = limit + delta
    assume(size >= len(body))
    with sandboxes() as box, mock.patch.object(_config_entries, "MAX_CONFIG_FILE_BYTES", limit):
        box.write_file(body + " " * (size - len(body)))
        if size <= limit:
            assert load_or_refuse(box) is not None
        else:
            with box.confined(), pytest.raises(ConfigFileError, match=rf"{size} bytes, more than the {limit} allowed"):
                box.store.load(OP, PLATFORM)
            note("outcome: ConfigFileError naming the file")


def test_sparse_file_past_the_default_limit_is_refused_unread(sandboxes: Any) -> None:
    """A 16 MiB + 1 byte file (sparse: no disk used) under the real limit."""
    with sandboxes() as box:
        path = box.write_file(b"[")
        os.truncate(path, _config_entries.MAX_CONFIG_FILE_BYTES + 1)
        with box.confined(), pytest.raises(ConfigFileError, match=r"more than the 16777216 allowed"):
            box.store.load(OP, PLATFORM)
        note("outcome: ConfigFileError naming the file")


def test_file_at_the_default_limit_loads(sandboxes: Any) -> None:
    body = json.dumps([{"key": {}, "config": VALID_CONFIG}])
    with sandboxes() as box:
        box.write_file(body + " " * (_config_entries.MAX_CONFIG_FILE_BYTES - len(body)))
        assert load_or_refuse(box) is not None


@fuzz_settings(150)
@given(
    depth=st.integers(min_value=1, max_value=3000),
    place=st.sampled_from(["top", "config-field", "key-field", "extra-field"]),
    bracket=st.sampled_from(["[]", "{}"]),
)
def test_deep_nesting_is_refused_cleanly(sandboxes: Any, depth: int, place: str, bracket: str) -> None:
    """Small files nested up to 3000 levels (Python's recursion limit is 1000):
    never a RecursionError."""
    if bracket == "[]":
        nested = "[" * depth + "]" * depth
    else:  # objects inside objects, the innermost empty
        nested = '{"a": ' * (depth - 1) + "{}" + "}" * (depth - 1)
    text = {
        "top": nested,
        "config-field": f'[{{"key": {{}}, "config": {{"block_sizes": {nested}}}}}]',
        "key-field": f'[{{"key": {{"n": {nested}}}, "config": {{}}}}]',
        "extra-field": f'[{{"key": {{}}, "config": {{}}, "provenance": {nested}}}]',
    }[place]
    with sandboxes() as box:
        box.write_file(text)
        load_or_refuse(box)


@fuzz_settings(100)
@given(digits=st.integers(min_value=1, max_value=20_000), place=st.sampled_from(["config", "key", "extra"]))
def test_huge_numbers(sandboxes: Any, digits: int, place: str) -> None:
    number = "7" * digits
    text = {
        "config": f'[{{"key": {{}}, "config": {{"num_warps": {number}}}}}]',
        "key": f'[{{"key": {{"n": {number}}}, "config": {{}}}}]',
        "extra": f'[{{"key": {{}}, "config": {{}}, "provenance": {number}e{number}}}]',
    }[place]
    with sandboxes() as box:
        box.write_file(text)
        load_or_refuse(box)


# ---------------------------------------------------------------- names


SEPARATORS = ["/", "\\", ".", "\x00", " ", "~", ":", "*", "\n", "-", "_", "\u2215", "\uff0e"]
names = (
    st.text(alphabet=st.sampled_from(list(string.ascii_letters + string.digits) + SEPARATORS), max_size=16)
    | st.sampled_from(
        [
            "..", ".", "../outside", "../../outside", "../outside/fuzz_op", "/etc", "/tmp/x", "a/..", "a/../..",
            "..\\outside", "outside/..", "fuzz_op/../../outside", "~", "~root", "a\x00b", "", " ", "-rf", ".hidden",
            "a" * 129, "a" * 128, "configs/../outside", "secret", "outside",
        ]
    )
    | st.text(max_size=40)
)


@fuzz_settings(600)
@given(op=names | st.sampled_from([OP]), platform=names | st.sampled_from([PLATFORM, "secret", "outside"]))
def test_op_and_platform_names_never_leave_the_directory(sandboxes: Any, op: str, platform: str) -> None:
    """path, write, load and platforms with any names: the layout
    configs/<op>/<platform>.json exactly, or a ConfigPathError naming the bad
    name; no access outside configs/."""
    with sandboxes() as box:
        with box.confined():
            try:
                path = box.store.path(op, platform)
            except ConfigPathError as exc:
                assert repr(op) in str(exc) or repr(platform) in str(exc), str(exc)
                note("outcome: ConfigPathError naming the name")
                with pytest.raises(ConfigPathError):
                    box.store.write(op, platform, [ConfigEntry({}, VALID_CONFIG)])
                with pytest.raises(ConfigPathError):
                    box.store.load(op, platform)
                return
            note("outcome: valid name, file inside configs/")
            assert path == box.configs / op / f"{platform}.json"
            assert box.store.load(op, platform) == {}
            written = box.store.write(op, platform, [ConfigEntry({"n": 1}, VALID_CONFIG)])
            assert written == path and path.is_file()
            assert list(box.store.load(op, platform)) == ["n=1"]
            assert box.store.platforms(op) == [platform]
            assert op in box.store.ops()


@fuzz_settings(100)
@given(value=st.none() | st.integers() | st.binary(max_size=8) | st.lists(st.text(max_size=3), max_size=2) | st.builds(Path, st.text(max_size=8)))
def test_names_of_other_types_are_refused(sandboxes: Any, value: object) -> None:
    with sandboxes() as box, box.confined():
        for op, platform in ((value, PLATFORM), (OP, value)):
            with pytest.raises(ConfigPathError, match="is not a valid config name"):
                box.store.path(op, platform)  # type: ignore[arg-type]
            with pytest.raises(ConfigPathError, match="is not a valid config name"):
                box.store.write(op, platform, [ConfigEntry({}, VALID_CONFIG)])  # type: ignore[arg-type]
        note("outcome: ConfigPathError naming the name")


SYMLINK_CASES = {
    # name -> (link path relative to configs, target relative to the sandbox root)
    "op-dir-to-outside": (OP, "outside/fuzz_op"),
    "platform-file-to-outside": (f"{OP}/{PLATFORM}.json", "outside/secret.json"),
    "platform-file-absolute": (f"{OP}/{PLATFORM}.json", "/etc/hostname"),
    "platform-file-loop": (f"{OP}/{PLATFORM}.json", f"configs/{OP}/{PLATFORM}.json"),
    "op-dir-to-root": (OP, "/"),
}


@pytest.mark.parametrize("case", list(SYMLINK_CASES))
@pytest.mark.parametrize("action", ["load", "write", "platforms"])
def test_symlinks_out_of_the_directory_are_refused(sandboxes: Any, case: str, action: str) -> None:
    """Symlinks inside configs/ that lead out (or loop): ConfigPathError, and the
    target is neither read nor written."""
    link, target = SYMLINK_CASES[case]
    with sandboxes() as box:
        link_path = box.configs / link
        link_path.parent.mkdir(parents=True, exist_ok=True)
        target_path = Path(target) if target.startswith("/") else box.root / target
        link_path.symlink_to(target_path)
        with box.confined():
            if action == "platforms":
                # Listing never follows the link out: the op has no platforms here.
                platforms = box.store.platforms(OP)
                assert platforms == ([] if link == OP else [PLATFORM])
                return
            with pytest.raises(ConfigPathError, match="leads outside its config directory"):
                if action == "load":
                    box.store.load(OP, PLATFORM)
                else:
                    box.store.write(OP, PLATFORM, [ConfigEntry({}, VALID_CONFIG)])
            note("outcome: ConfigPathError (symlink out)")


# ---------------------------------------------------------------- entries given to write()


class NotJson:
    pass


odd_values = json_values | st.sets(st.integers(), max_size=2) | st.binary(max_size=4) | st.builds(NotJson) | st.just(float("nan")) | st.just(float("inf"))


@fuzz_settings(400)
@given(
    key=keys | odd_values,
    config=configs | st.dictionaries(st.sampled_from(FIELDS), odd_values, max_size=2) | odd_values,
    extra=st.dictionaries(st.text(max_size=8) | st.integers(), odd_values, max_size=2) | odd_values,
)
def test_write_validates_what_it_is_given(sandboxes: Any, key: object, config: object, extra: object) -> None:
    """write() with arbitrary key/config/extra values: stored and reloaded equal,
    or a ConfigFileError and the existing file byte-for-byte unchanged."""
    with sandboxes() as box:
        with box.confined():
            box.store.write(OP, PLATFORM, [ConfigEntry({}, VALID_CONFIG)])
        before = box.file.read_bytes()
        entry = ConfigEntry(key, config, extra)  # type: ignore[arg-type]
        with box.confined():
            try:
                box.store.write(OP, PLATFORM, [entry])
            except ConfigFileError as exc:
                assert f"{OP}/{PLATFORM}: new entry 0" in str(exc), str(exc)
                assert box.file.read_bytes() == before
                note("outcome: ConfigFileError, file unchanged")
                return
            note("outcome: written and reloaded equal")
            loaded = box.store.load(OP, PLATFORM)
        assert loaded[entry.key_id] == entry
        assert_usable(loaded)


@pytest.mark.parametrize("entry", [{"key": {}, "config": {}}, ({}, {}), None, "default"], ids=["dict", "tuple", "none", "str"])
def test_write_refuses_what_is_not_a_config_entry(sandboxes: Any, entry: object) -> None:
    with sandboxes() as box, box.confined(), pytest.raises(ConfigFileError, match=r"new entry 0: expected a ConfigEntry"):
        box.store.write(OP, PLATFORM, [entry])  # type: ignore[list-item]
    note("outcome: ConfigFileError, file unchanged")


# ---------------------------------------------------------------- regressions the fuzzing found


@pytest.mark.parametrize(
    "text,match",
    [
        ('[{"key": {}, "config": {"block_sizes": ' + "[" * 900 + "]" * 900 + "}}]", r"nested deeper than 32 levels"),
        ('[{"key": {}, "config": {}, "provenance": 1e400}]', r"entry 0: extra fields are not plain JSON"),
        ('[{"key": {}, "config": {"advanced_controls_file": "/etc/passwd"}}]', r"field 'advanced_controls_file': config files may not name other files"),
        ('[{"key": {}, "config": {"advanced_controls_file": "x.acf --fmad=false"}}]', r"may not name other files"),
    ],
    ids=["deep-config-value", "infinite-extra", "controls-file-absolute", "controls-file-with-options"],
)
def test_regressions_are_clear_errors(sandboxes: Any, text: str, match: str) -> None:
    """Before the fixes: a RecursionError; an Infinity that made every later
    write fail with ValueError; a config pointing ptxas at any file (or adding
    options to its command line)."""
    with sandboxes() as box:
        box.write_file(text)
        with box.confined(), pytest.raises(ConfigFileError, match=match):
            box.store.load(OP, PLATFORM)
        note("outcome: ConfigFileError naming the file")


def test_empty_controls_file_is_accepted(sandboxes: Any) -> None:
    with sandboxes() as box:
        box.write_file(json.dumps([{"key": {}, "config": {"advanced_controls_file": ""}}]))
        assert load_or_refuse(box) is not None


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_written_files_get_the_umask_mode_and_keep_it(sandboxes: Any, umask: int) -> None:
    """A new config file is created as open() would (0666 less the umask), not
    0600 like a mkstemp file; a rewrite keeps the file's mode."""
    with sandboxes() as box:
        old = os.umask(umask)
        try:
            path = box.store.write(OP, PLATFORM, [ConfigEntry({}, VALID_CONFIG)])
        finally:
            os.umask(old)
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask
        path.chmod(0o640)
        box.store.write(OP, PLATFORM, [ConfigEntry({"n": 2}, VALID_CONFIG)])
        assert path.stat().st_mode & 0o777 == 0o640
