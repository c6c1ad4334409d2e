"""``helion-ops merge``: fold tuned config folders into another one.

Autotune writes into its ``--out`` folder; runs on several machines (an H100
and an H200, say) leave one folder each, and what ships is the kernels
package's ``configs`` folder. ``merge SRC... --into DEST`` reads every
``<op>/<platform>.json`` of the sources (validated like any config file) and
writes them into DEST through ``ConfigStore.write``: atomically, per key, so
DEST keeps its entries for other keys. Where several sources hold one key the
later source wins.

Everything is checked before anything is written, so a bad source leaves DEST
as it was. One check is the merge's own: an entry whose provenance names a GPU
of another platform than its file (an H200's tuning result in
``nvidia_h100.json``: the folders mixed up by hand) is refused unless
``--allow-other-gpu`` is passed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from ._cli_errors import CliUsageError, ConfigMergeError, OutputPathError
from ._config_entries import ConfigEntry
from ._config_store import ConfigStore, file_order


@dataclasses.dataclass(frozen=True)
class MergeRow:
    """What merging does to one key of one (op, platform) file of the destination."""

    op: str
    platform: str
    new: ConfigEntry
    old: ConfigEntry | None

    @property
    def action(self) -> str:
        if self.old is None:
            return "add"
        return "same" if self.old.to_json() == self.new.to_json() else "replace"


def _check_gpu(op: str, platform: str, entry: ConfigEntry) -> None:
    from ._platform import canonical_platform
    from ._provenance import PROVENANCE_FIELD

    # The raw record, not provenance_of's: an entry edited after tuning still
    # says which machine's folder it came from.
    record = entry.extra.get(PROVENANCE_FIELD)
    gpu = record.get("gpu") if isinstance(record, dict) else None
    if not isinstance(gpu, str) or platform == "cpu":
        return
    tuned_on = canonical_platform(gpu)
    if tuned_on != platform:
        raise ConfigMergeError(
            f"op {op!r}: an entry{entry.origin} was tuned on {gpu!r} (platform {tuned_on}) but sits in the "
            f"{platform} file; expected a GPU of platform {platform}. Check which folder came from which "
            "machine, or pass --allow-other-gpu to merge it anyway"
        )


def _source_files(sources: Sequence[Path], ops: Sequence[str], platforms: Sequence[str]) -> list[tuple[str, str]]:
    """(op, platform) pairs present in any source, filtered; a usage error if a source or filter finds nothing."""
    pairs: set[tuple[str, str]] = set()
    for source in sources:
        if not source.is_dir():
            raise CliUsageError(f"helion-ops merge: source {str(source)!r} is not a directory")
        store = ConfigStore([source])
        found = {(op, platform) for op in store.ops() for platform in store.platforms(op)}
        if not found:
            raise CliUsageError(
                f"helion-ops merge: source {str(source)!r} holds no <op>/<platform>.json config files "
                "(give the folder autotune's --out wrote)"
            )
        pairs |= found
    for option, wanted, index in (("--ops", ops, 0), ("--platforms", platforms, 1)):
        missing = sorted(set(wanted) - {pair[index] for pair in pairs})
        if missing:
            raise CliUsageError(f"helion-ops merge: {option} {', '.join(missing)}: no such config files in the sources")
    return sorted(p for p in pairs if (not ops or p[0] in ops) and (not platforms or p[1] in platforms))


def plan_merge(
    sources: Sequence[Path],
    destination: Path,
    *,
    ops: Sequence[str] = (),
    platforms: Sequence[str] = (),
    allow_other_gpu: bool = False,
) -> list[MergeRow]:
    """One row per (op, platform, key) the sources hold: the entry that would be written and the one it replaces."""
    if destination.exists() and not destination.is_dir():
        raise OutputPathError(f"--into {str(destination)!r} is a file; give a directory")
    if any(source.resolve() == destination.resolve() for source in sources):
        raise CliUsageError(f"helion-ops merge: --into {str(destination)!r} is also a source; merge into another folder")
    rows = []
    target = ConfigStore([destination])
    for op, platform in _source_files(sources, ops, platforms):
        # Layers: the first directory wins a key, so the sources go in reversed (the later one wins).
        incoming = ConfigStore(list(reversed(sources))).load(op, platform)
        existing = target.load(op, platform)
        for key, entry in sorted(incoming.items(), key=lambda item: file_order(item[0])):
            if not allow_other_gpu:
                _check_gpu(op, platform, entry)
            rows.append(MergeRow(op, platform, entry, existing.get(key)))
    return rows


def apply_merge(rows: Sequence[MergeRow], destination: Path) -> list[Path]:
    """Write the rows that change something, one atomic write per file; the files written."""
    by_file: dict[tuple[str, str], list[ConfigEntry]] = {}
    for row in rows:
        if row.action != "same":
            by_file.setdefault((row.op, row.platform), []).append(row.new)
    store = ConfigStore([destination])
    return [store.write(op, platform, entries) for (op, platform), entries in by_file.items()]


def _summary(entry: ConfigEntry | None) -> str:
    from ._provenance import provenance_of

    if entry is None:
        return "-"
    # provenance_of: a tuned time only while it still describes the entry's config and kernel.
    ms = (provenance_of(entry) or {}).get("tuned_ms")
    timing = f"{ms * 1000:.1f} us" if isinstance(ms, (int, float)) else "untimed"
    return f"{entry.variant or 'own'}, {timing}"


def table_rows(rows: Sequence[MergeRow]) -> list[list[str]]:
    """op, platform, key, action, the destination's entry before and the one written (variant, tuned time)."""
    return [
        [row.op, row.platform, row.new.key_id, row.action, _summary(row.old), _summary(row.new)] for row in rows
    ]


def run_merge(
    sources: Sequence[str],
    destination: str,
    *,
    ops: Sequence[str] = (),
    platforms: Sequence[str] = (),
    allow_other_gpu: bool = False,
    dry_run: bool = False,
) -> int:
    from ._table import print_table

    into = Path(destination)
    rows = plan_merge(
        [Path(s) for s in sources], into, ops=ops, platforms=platforms, allow_other_gpu=allow_other_gpu
    )
    print_table(None, ["op", "platform", "key", "action", "before", "after"], table_rows(rows))
    counts = {action: sum(row.action == action for row in rows) for action in ("add", "replace", "same")}
    tally = f"{counts['add']} added, {counts['replace']} replaced, {counts['same']} unchanged"
    if dry_run:
        print(f"dry run: {tally}; nothing written to {into}")
        return 0
    written = apply_merge(rows, into)
    print(f"{tally}; wrote {len(written)} file(s) under {into}")
    return 0
