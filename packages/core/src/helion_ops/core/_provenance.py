"""Where a tuned config came from: a sidecar file beside each config file.

``<dir>/<op>/<platform>.json`` stays exactly vLLM's format; its provenance is
``<dir>/<op>/<platform>.provenance`` (JSON text)::

    {"format": "helion-ops-provenance/1", "op": "rms_norm", "platform": "nvidia_h100",
     "entries": {"hidden=4096,numtokens=8": {"torch": "2.11.0", "triton": "3.6.0", "helion": "1.5.0",
                 "gpu": "NVIDIA H100 80GB HBM3", "date": "2026-11-20T10:00:00+00:00", "tuned_ms": 0.011,
                 "default_ms": 0.019, "effort": "full", "autotuner": "helion", "shape": "...",
                 "config": {...}}}}

Why a sidecar and why not ``.json``: vLLM reads only ``key`` and ``config``
of an entry, but its own save path rewrites the file without other fields,
and its loader takes every ``*.json`` of an op's folder for a platform file
(a ``<platform>.provenance.json`` would be read as platform
``<platform>.provenance`` and fail to parse as entries). Core's
``ConfigStore.platforms`` globs ``*.json`` the same way.

An entry counts as *tuned* (and ``autotune --resume`` skips its key) only
when the sidecar has a record for its key whose ``config`` equals the
entry's config: hand-written entries have no record, and an entry edited
by hand after tuning no longer matches its record.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._config_store import MAX_CONFIG_FILE_BYTES, ConfigStore, atomic_write_text, check_name
from ._errors import ConfigFileError

if TYPE_CHECKING:
    from ._wrapper import HelionKernelWrapper

PROVENANCE_SUFFIX = ".provenance"
PROVENANCE_FORMAT = "helion-ops-provenance/1"
# Versions compared by provenance_mismatches, in the order reported.
VERSIONED_PACKAGES = ("torch", "triton", "helion")


def provenance_path(directory: str | os.PathLike[str], op: str, platform: str) -> Path:
    return Path(directory) / check_name("op", op) / f"{check_name('platform', platform)}{PROVENANCE_SUFFIX}"


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
) -> dict[str, Any]:
    """A provenance record for one tuned entry, made where the tuning ran."""
    return {
        **runtime_versions(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "tuned_ms": float(tuned_ms),
        "default_ms": float(default_ms),
        "effort": effort,
        "autotuner": autotuner,
        "shape": shape,
        "config": dict(config),
    }


def read_provenance(directory: str | os.PathLike[str], op: str, platform: str) -> dict[str, dict[str, Any]]:
    """Records by key id (``{}`` when there is no sidecar)."""
    path = provenance_path(directory, op, platform)
    try:
        if path.stat().st_size > MAX_CONFIG_FILE_BYTES:
            raise ConfigFileError(f"{path}: more than the {MAX_CONFIG_FILE_BYTES} bytes allowed for a provenance file")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigFileError(f"{path}: cannot be read ({exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigFileError(
            f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}); delete it to forget where the configs came from"
        ) from None
    entries = data.get("entries") if isinstance(data, dict) else None
    if not isinstance(entries, dict) or not all(isinstance(v, dict) for v in entries.values()):
        raise ConfigFileError(
            f"{path}: expected {{'format': {PROVENANCE_FORMAT!r}, 'entries': {{key id: record}}}}, "
            f"found {json.dumps(data)[:80]}"
        )
    return entries


def write_provenance(
    directory: str | os.PathLike[str], op: str, platform: str, records: Mapping[str, Mapping[str, Any]]
) -> Path:
    """Merge ``records`` (by key id) into the sidecar atomically; other keys are kept."""
    path = provenance_path(directory, op, platform)
    merged = read_provenance(directory, op, platform)
    merged.update({k: dict(v) for k, v in records.items()})
    document = {
        "format": PROVENANCE_FORMAT,
        "op": op,
        "platform": platform,
        "entries": {k: merged[k] for k in sorted(merged)},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(document, indent=2) + "\n")
    return path


def tuned_key_ids(directory: str | os.PathLike[str], op: str, platform: str) -> set[str]:
    """Key ids of ``directory``'s entries that an autotune run wrote and nobody changed since."""
    entries = ConfigStore([directory]).load(op, platform)
    records = read_provenance(directory, op, platform)
    return {kid for kid, entry in entries.items() if kid in records and records[kid].get("config") == entry.config}


def provenance_mismatches(wrapper: HelionKernelWrapper) -> list[str]:
    """Warnings, one per package and tuning version (and GPU), for the op's tuned entries in use
    on this platform whose tuning ran with other versions than this process has."""
    platform = wrapper.platform
    entries = wrapper.configured.entries
    running = runtime_versions()
    # The first layer that has an entry wins, as in ConfigStore.load.
    found: dict[str, dict[str, Any]] = {}
    for directory in wrapper.config_store.directories:
        try:
            records = read_provenance(directory, wrapper.op_name, platform)
        except ConfigFileError as exc:
            return [f"op {wrapper.op_name!r}: {exc}"]
        for kid, record in records.items():
            entry = entries.get(kid)
            if kid not in found and entry is not None and record.get("config") == entry.config:
                found[kid] = record
    warnings: list[str] = []
    for field in (*VERSIONED_PACKAGES, "gpu"):
        if field == "gpu" and running["gpu"] == "cpu":
            continue  # no GPU here: nothing to compare with
        by_value: dict[str, list[str]] = {}
        for kid, record in found.items():
            value = str(record.get(field, "unknown"))
            if value != running[field]:
                by_value.setdefault(value, []).append(kid)
        for value, kids in sorted(by_value.items()):
            what = "on GPU" if field == "gpu" else f"with {field}"
            warnings.append(
                f"op {wrapper.op_name!r}: {len(kids)} of {len(entries)} config entries on {platform} were tuned "
                f"{what} {value!r}, this process runs {running[field]!r} (e.g. key {sorted(kids)[0]!r}); "
                f"re-tune with `helion-ops autotune {wrapper.op_name}` if it got slower"
            )
    return warnings
