"""Provenance of tuned config entries (in process): stored inside the entry so
that vLLM's reader still reads the file, counted as *tuned* only while it
matches the entry's config, and compared with the running versions by
``helion-ops doctor``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import autotune_test_ops as test_ops
import helion
import pytest

from helion_ops.core import ConfigEntry, ConfigStore
from helion_ops.core._provenance import (
    PROVENANCE_FIELD,
    make_record,
    provenance_mismatches,
    runtime_versions,
    tuned_entry,
    tuned_key_ids,
)

CONFIG = {"block_sizes": [4], "num_warps": 2}
KEY = {"hidden": 8, "numtokens": 3}


def record(config: dict[str, Any] = CONFIG, **versions: str) -> dict[str, Any]:
    made = make_record(config=config, tuned_ms=1.0, default_ms=1.5, effort="full", autotuner="helion", shape="s")
    return {**made, **versions}


def test_a_record_names_versions_gpu_date_and_times() -> None:
    made = record()
    assert {"torch", "triton", "helion", "gpu", "date", "tuned_ms", "default_ms", "effort", "config"} <= set(made)
    assert made["gpu"] == "cpu" and made["helion"] == runtime_versions()["helion"]
    assert (made["tuned_ms"], made["default_ms"]) == (1.0, 1.5)
    # Where the config came from: recorded when the tuner knows it.
    assert "origin" not in made
    with_origin = make_record(
        config=CONFIG, tuned_ms=1.0, default_ms=1.5, effort="stored", autotuner="helion", shape="s",
        origin="stored nvidia_h200",
    )
    assert with_origin["origin"] == "stored nvidia_h200"


def vllm_read(path: Path) -> dict[str, helion.Config]:
    """What vLLM's ConfigSet.from_dict does with a platform file: entry['key'] and entry['config'] only."""
    out = {}
    for entry in json.loads(path.read_text()):
        key = ",".join(f"{k}={v}" for k, v in sorted(entry["key"].items())) or "default"
        out[key] = helion.Config(**entry["config"])
    return out


def test_the_file_stays_readable_as_vllm_reads_it(tmp_path: Path) -> None:
    store = ConfigStore([tmp_path])
    path = store.write("op", "nvidia_h100", [tuned_entry(KEY, CONFIG, record()), ConfigEntry({}, {"num_warps": 4})])
    raw = json.loads(path.read_text())
    assert isinstance(raw, list) and all({"key", "config"} <= set(e) for e in raw)
    assert vllm_read(path)["hidden=8,numtokens=3"] == helion.Config(**CONFIG)
    assert store.load("op", "nvidia_h100")["hidden=8,numtokens=3"].extra[PROVENANCE_FIELD]["config"] == CONFIG


@pytest.mark.parametrize(
    ("entry", "tuned"),
    [
        (tuned_entry(KEY, CONFIG, record()), True),
        (ConfigEntry(KEY, CONFIG), False),  # hand-written
        (ConfigEntry(KEY, {"block_sizes": [8], "num_warps": 2}, {PROVENANCE_FIELD: record()}), False),  # edited after tuning
        (ConfigEntry(KEY, CONFIG, {PROVENANCE_FIELD: "tuned"}), False),  # not a record
    ],
)
def test_tuned_means_written_by_autotune_and_unchanged(tmp_path: Path, entry: ConfigEntry, tuned: bool) -> None:
    ConfigStore([tmp_path]).write("op", "cpu", [entry])
    assert tuned_key_ids(tmp_path, "op", "cpu") == ({"hidden=8,numtokens=3"} if tuned else set())


class _FakeConfigured:
    def __init__(self, entries: dict[str, ConfigEntry]) -> None:
        self.entries = entries


class _FakeWrapper:
    """The two attributes provenance_mismatches reads, around real entries."""

    op_name = test_ops.SCALE_OP
    platform = "nvidia_h100"

    def __init__(self, entries: list[ConfigEntry]) -> None:
        self.configured = _FakeConfigured({e.key_id: e for e in entries})


RUNNING = {"torch": "2.11.0", "triton": "3.6.0", "helion": "1.5.0", "gpu": "NVIDIA H100 80GB HBM3"}


def test_no_warning_when_versions_match() -> None:
    wrapper = _FakeWrapper([tuned_entry(KEY, CONFIG, record(**RUNNING))])
    assert provenance_mismatches(wrapper, RUNNING) == []  # type: ignore[arg-type]


@pytest.mark.parametrize("field", ["torch", "triton", "helion", "gpu"])
def test_one_warning_per_differing_version(field: str) -> None:
    other = {**RUNNING, field: "other"}
    entries = [
        tuned_entry(KEY, CONFIG, record(**other)),
        tuned_entry({"hidden": 8, "numtokens": 1}, CONFIG, record(**other)),
        ConfigEntry({}, {"num_warps": 4}),  # hand-written default: never compared
    ]
    warnings = provenance_mismatches(_FakeWrapper(entries), RUNNING)  # type: ignore[arg-type]
    assert len(warnings) == 1
    assert "2 of 3 config entries on nvidia_h100 were tuned" in warnings[0]
    assert "'other'" in warnings[0] and repr(RUNNING[field]) in warnings[0]
    assert f"helion-ops autotune {test_ops.SCALE_OP}" in warnings[0]


def test_gpu_is_not_compared_on_a_machine_without_one() -> None:
    wrapper = _FakeWrapper([tuned_entry(KEY, CONFIG, record(**RUNNING))])
    assert provenance_mismatches(wrapper, {**RUNNING, "gpu": "cpu"}) == []  # type: ignore[arg-type]
