"""Markdown table of a ``helion-ops bench --json`` file, with the targets'
figures: % of the copy ceiling, speed-up against Inductor and against the
faster of Inductor and Liger-Kernel, and the geometric-mean speed-up over
Inductor on the decode shapes (<= 256 tokens).

    python benchmarks/bench_table.py docs/bench-nvidia_h100.json
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

DECODE_MAX_TOKENS = 256


def _tokens(shape: str) -> int:
    fields = dict(part.split("=") for part in shape.split(","))
    return int(fields["numtokens"])


def _ratio(baseline: dict[str, Any] | None, ours: dict[str, Any]) -> float | None:
    return baseline["ms"] / ours["ms"] if baseline and baseline.get("ms") and ours.get("ms") else None


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def table(records: list[dict[str, Any]]) -> str:
    by_shape: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for r in records:
        by_shape.setdefault((r["op"], r["shape"]), {})[r["contender"]] = r
    first = records[0]
    lines = [
        f"{first['device']}, torch {first['torch']}, triton {first['triton']}, helion {first['helion']}; "
        f"copy ceiling {first['copy_ceiling_tbps']:.2f} TB/s (measured in the same run)",
        "",
        "| op | shape | MB | helion us | helion TB/s (% ceiling) | inductor TB/s | liger TB/s | x inductor | x best of inductor/liger | config key |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    decode: list[float] = []
    for (op, shape), c in by_shape.items():
        ours = c["helion"]
        inductor, liger = c.get("inductor"), c.get("liger")
        baselines = [b for b in (inductor, liger) if b and b.get("ms")]
        best = min(baselines, key=lambda b: b["ms"]) if baselines else None
        vs_inductor = _ratio(inductor, ours)
        if vs_inductor is not None and _tokens(shape) <= DECODE_MAX_TOKENS:
            decode.append(vs_inductor)
        if not ours.get("ms"):
            lines.append(f"| {op} | {shape} | - | failed: {ours.get('note')} | | | | | | |")
            continue
        lines.append(
            f"| {op} | {shape} | {ours['bytes'] / 1e6:.1f} | {ours['ms'] * 1e3:.1f} | "
            f"{ours['tbps']:.2f} ({ours['pct_of_copy_ceiling']:.0f}%) | "
            f"{_fmt(inductor['tbps'] if inductor and inductor.get('ms') else None)} | "
            f"{_fmt(liger['tbps'] if liger and liger.get('ms') else None)} | "
            f"{_fmt(vs_inductor)} | {_fmt(_ratio(best, ours))} | {ours.get('config')} |"
        )
    if decode:
        geomean = math.exp(sum(map(math.log, decode)) / len(decode))
        lines += ["", f"Decode shapes (<= {DECODE_MAX_TOKENS} tokens): geometric-mean speed-up over Inductor "
                  f"{geomean:.2f}x over {len(decode)} shapes."]
    lines += _noise(records)
    return "\n".join(lines)


def _noise(records: list[dict[str, Any]]) -> list[str]:
    """The run's own noise, where it timed every contender more than once
    (``helion-ops bench --repeats N``): the spread (max/min - 1) of each row's timings."""
    spread = sorted(
        ((r["spread"], r["op"], r["shape"], r["contender"]) for r in records if r.get("spread") is not None),
        reverse=True,
    )
    if not spread:
        return ["", "Run-to-run noise: not measured in this run (one timing per row; `--repeats N` measures it)."]
    largest, op, shape, contender = spread[0]
    median = spread[len(spread) // 2][0]
    return [
        "",
        f"Run-to-run noise (each row timed several times, median reported): spread max/min - 1 "
        f"median {median * 100:.1f}%, largest {largest * 100:.1f}% ({op} {shape}, {contender}).",
    ]


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python benchmarks/bench_table.py BENCH.json", file=sys.stderr)
        return 2
    print(table(json.loads(Path(argv[1]).read_text(encoding="utf-8"))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
