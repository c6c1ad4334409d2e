"""Where a tuned config came from, stored inside its config entry.

``<dir>/<op>/<platform>.json`` keeps vLLM's format, a list of ``{"key": ...,
"config": ...}`` entries; an entry that ``helion-ops autotune`` wrote also has
a ``"provenance"`` field::

    {"key": {"hidden": 4096, "numtokens": 8},
     "config": {...},
     "provenance": {"torch": "2.11.0", "triton": "3.6.0", "helion": "1.5.0",
                    "gpu": "NVIDIA H100 80GB HBM3", "date": "2026-11-20T10:00:00+00:00",
                    "tuned_ms": 0.011, "default_ms": 0.019, "effort": "full",
                    "autotuner": "helion", "shape": "hidden=4096,numtokens=8",
                    "config": {...}}}

Why inside the entry: vLLM's loader reads only ``key`` and ``config`` of each
entry (extra fields are ignored), and the entry and its provenance are then
written together, in one atomic rename: never one without the other. vLLM's
own save path drops the extra field; such an entry simply counts as untuned.

An entry counts as *tuned* (``autotune --resume`` skips its key, ``doctor``
compares versions) only while its provenance's ``config`` equals the entry's
``config``: an entry edited by hand after tuning no longer matches.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._config_entries import VARIANT_FIELD, ConfigEntry
from ._config_store import ConfigStore

if TYPE_CHECKING:
    from ._wrapper import HelionKernelWrapper

PROVENANCE_FIELD = "provenance"
# Versions compared by provenance_mismatches, in the order reported.
VERSIONED_PACKAGES = ("torch", "triton", "helion")


def package_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def gpu_name() -> str:
    """The current CUDA device's name, or ``"cpu"`` where there is none."""
    import torch

    return torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"


def runtime_versions() -> dict[str, str]:
    """Package versions and GPU of this process, as a provenance record stores them."""
    versions = {name: package_version(name) for name in VERSIONED_PACKAGES}
    versions["gpu"] = gpu_name()
    return versions


def make_record(
    *,
    config: Mapping[str, Any],
    tuned_ms: float,
    default_ms: float,
    effort: str,
    autotuner: str,
    shape: str,
    origin: str | None = None,
    variant: str | None = None,
    variants_ms: Mapping[str, float | str] | None = None,
) -> dict[str, Any]:
    """A provenance record for one tuned entry, made in the process that tuned
    it; ``origin`` says where the config came from where that is known
    (``"default"``, ``"stored nvidia_h200"``, ``"candidates"``...); for an op
    with variants, the one chosen and each one's tuned time (ms) or error."""
    record = {
        **runtime_versions(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "tuned_ms": float(tuned_ms),
        "default_ms": float(default_ms),
        "effort": effort,
        "autotuner": autotuner,
        "shape": shape,
        "config": dict(config),
    }
    if origin is not None:
        record["origin"] = origin
    if variant is not None:
        record["variant"] = variant
    if variants_ms is not None:
        record["variants_ms"] = dict(variants_ms)
    return record


def tuned_entry(
    key: Mapping[str, Any], config: Mapping[str, Any], record: Mapping[str, Any], variant: str | None = None
) -> ConfigEntry:
    """The config entry autotune writes: vLLM's key and config, the variant it
    is for where that is not the op's own function, and its provenance."""
    extra: dict[str, Any] = {} if variant is None else {VARIANT_FIELD: variant}
    return ConfigEntry(dict(key), dict(config), {**extra, PROVENANCE_FIELD: dict(record)})


def provenance_of(entry: ConfigEntry) -> dict[str, Any] | None:
    """The entry's provenance record if it still describes the entry's config
    and the kernel it runs on (its ``variant``), else None."""
    record = entry.extra.get(PROVENANCE_FIELD)
    if not isinstance(record, dict) or record.get("config") != entry.config:
        return None
    if record.get("variant") != entry.variant:
        return None  # the config was tuned on another of the op's kernels
    return record


def tuned_key_ids(directory: str | os.PathLike[str], op: str, platform: str) -> set[str]:
    """Key ids of ``directory``'s entries that an autotune run wrote and nobody changed since."""
    entries = ConfigStore([directory]).load(op, platform)
    return {kid for kid, entry in entries.items() if provenance_of(entry) is not None}


def provenance_mismatches(wrapper: HelionKernelWrapper, running: Mapping[str, str] | None = None) -> list[str]:
    """Warnings, one per package and tuning version (and GPU), for the op's tuned entries in use
    on this platform whose tuning ran with other versions than this process has."""
    entries = wrapper.configured.entries
    running = runtime_versions() if running is None else running
    records = {kid: r for kid, entry in entries.items() if (r := provenance_of(entry)) is not None}
    warnings: list[str] = []
    for field in (*VERSIONED_PACKAGES, "gpu"):
        if field == "gpu" and running["gpu"] == "cpu":
            continue  # no GPU here: nothing to compare with
        by_value: dict[str, list[str]] = {}
        for kid, record in records.items():
            value = str(record.get(field, "unknown"))
            if value != running[field]:
                by_value.setdefault(value, []).append(kid)
        for value, kids in sorted(by_value.items()):
            what = "on GPU" if field == "gpu" else f"with {field}"
            warnings.append(
                f"op {wrapper.op_name!r}: {len(kids)} of {len(entries)} config entries on {wrapper.platform} were "
                f"tuned {what} {value!r}, this process runs {running[field]!r} (e.g. key {sorted(kids)[0]!r}); "
                f"re-tune with `helion-ops autotune {wrapper.op_name}` if it got slower"
            )
    return warnings
