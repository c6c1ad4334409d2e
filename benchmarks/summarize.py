"""Print a pytest-benchmark JSON file as Markdown tables, one per group.

    python benchmarks/summarize.py results.json

Times are medians per call: a benchmark that times several calls per round
says how many in ``extra_info["calls_per_round"]``. The machine line comes
from the file (pytest-benchmark records it) plus the versions this script
finds installed.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any


def per_call_us(bench: dict[str, Any]) -> float:
    calls = int(bench.get("extra_info", {}).get("calls_per_round", 1))
    return float(bench["stats"]["median"]) * 1e6 / calls


def versions() -> str:
    import importlib.metadata as md

    found = []
    for name in ("torch", "triton", "helion"):
        try:
            found.append(f"{name} {md.version(name)}")
        except md.PackageNotFoundError:
            pass
    return ", ".join(found)


def tables(data: dict[str, Any]) -> str:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for bench in data["benchmarks"]:
        groups[bench.get("group") or "ungrouped"].append(bench)
    lines = [f"machine: {data.get('machine_info', {}).get('node', '?')}; {versions()}", ""]
    for group, benches in groups.items():
        fastest = min(per_call_us(b) for b in benches)
        lines += [f"### {group}", "", "| case | median us/call | x fastest |", "|---|---|---|"]
        for bench in sorted(benches, key=per_call_us):
            us = per_call_us(bench)
            lines.append(f"| {bench['name']} | {us:.2f} | {us / fastest:.2f} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    print(tables(json.loads(Path(argv[1]).read_text(encoding="utf-8"))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
