"""Markdown table of ``helion-ops bench --json`` files, with the targets'
figures: % of the copy ceiling, speed-up against Inductor and against the
faster of Inductor and Liger-Kernel, the geometric-mean speed-up over
Inductor on the decode shapes (<= 256 tokens), and each op's worst shape
against each target; beside the targets, as context, what a copy moving the
same bytes achieved (runs from 2026-11-28 on time one per shape).

    python benchmarks/bench_table.py docs/bench-nvidia_h100.json
    python benchmarks/bench_table.py bench-*.json --plot bench.png

Several files (one ``helion-ops bench`` process per GPU, each op in one of
them) are merged; each record keeps the copy ceiling its process measured.
Where two files hold the same row (op, shape, contender), the later file's
is kept: a re-run of some rows listed after the whole run.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

DECODE_MAX_TOKENS = 256
# Issue 5's targets: "large" shapes move at least this many bytes.
LARGE_BYTES = 64e6


def _tokens(shape: str) -> int:
    fields = dict(part.split("=") for part in shape.split(","))
    return int(fields["numtokens"])


def _ratio(baseline: dict[str, Any] | None, ours: dict[str, Any]) -> float | None:
    return baseline["ms"] / ours["ms"] if baseline and baseline.get("ms") and ours.get("ms") else None


Worst = dict[str, tuple[float, str]]  # op -> (its lowest value, the shape it was measured on)


def _keep_worst(found: Worst, op: str, value: float, shape: str) -> None:
    found[op] = min(found.get(op, (math.inf, "")), (value, shape))


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def table(records: list[dict[str, Any]]) -> str:
    by_shape: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for r in records:
        by_shape.setdefault((r["op"], r["shape"]), {})[r["contender"]] = r
    first = records[0]
    ceilings = sorted({round(r["copy_ceiling_tbps"], 2) for r in records})
    ceiling = (
        f"copy ceiling {ceilings[0]:.2f} TB/s (measured in the same run)"
        if len(ceilings) == 1
        else f"copy ceiling {ceilings[0]:.2f}-{ceilings[-1]:.2f} TB/s (each bench process measured its own, in the run of its rows)"
    )
    lines = [
        f"{first['device']}, torch {first['torch']}, triton {first['triton']}, helion {first['helion']}; {ceiling}",
        "",
        "| op | shape | MB | helion us | helion TB/s (% ceiling) | inductor TB/s | liger TB/s | x inductor "
        "| x best of inductor/liger | same-size copy TB/s (helion % of it) | config key |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    decode: list[float] = []
    # Per op, its worst (value, shape) against each per-shape target.
    worst_pct: Worst = {}
    worst_best: Worst = {}
    worst_of_copy: Worst = {}
    below_par: list[str] = []
    for (op, shape), c in by_shape.items():
        ours = c["helion"]
        inductor, liger = c.get("inductor"), c.get("liger")
        baselines = [b for b in (inductor, liger) if b and b.get("ms")]
        best = min(baselines, key=lambda b: b["ms"]) if baselines else None
        vs_inductor = _ratio(inductor, ours)
        if vs_inductor is not None and _tokens(shape) <= DECODE_MAX_TOKENS:
            decode.append(vs_inductor)
        if not ours.get("ms"):
            lines.append(f"| {op} | {shape} | - | failed: {ours.get('note')} | | | | | | | |")
            continue
        vs_best = _ratio(best, ours)
        if best is not None and vs_best is not None and vs_best < 1.0:
            below_par.append(_below_par_line(op, shape, ours, best, inductor))
        large = ours["bytes"] >= LARGE_BYTES
        if large:
            _keep_worst(worst_pct, op, ours["pct_of_copy_ceiling"], shape)
        if vs_best is not None:
            _keep_worst(worst_best, op, vs_best, shape)
        copy = c.get("copy")
        # Bytes per ms of each (the copy's byte count may differ by one from the op's).
        of_copy = 100 * (ours["bytes"] / ours["ms"]) / (copy["bytes"] / copy["ms"]) if copy and copy.get("ms") else None
        if of_copy is not None and large:
            _keep_worst(worst_of_copy, op, of_copy, shape)
        copy_cell = "-" if of_copy is None else f"{copy['tbps']:.2f} ({of_copy:.0f}%)"
        lines.append(
            f"| {op} | {shape} | {ours['bytes'] / 1e6:.1f} | {ours['ms'] * 1e3:.1f} | "
            f"{ours['tbps']:.2f} ({ours['pct_of_copy_ceiling']:.0f}%) | "
            f"{_fmt(inductor['tbps'] if inductor and inductor.get('ms') else None)} | "
            f"{_fmt(liger['tbps'] if liger and liger.get('ms') else None)} | "
            f"{_fmt(vs_inductor)} | {_fmt(vs_best)} | {copy_cell} | {ours.get('config')} |"
        )
    if decode:
        geomean = math.exp(sum(map(math.log, decode)) / len(decode))
        lines += ["", f"Decode shapes (<= {DECODE_MAX_TOKENS} tokens): geometric-mean speed-up over Inductor "
                  f"{geomean:.2f}x over {len(decode)} shapes."]
    lines += _noise(records)
    lines += _targets(sorted({op for op, _ in by_shape}), worst_pct, worst_best, worst_of_copy)
    if below_par:
        lines += ["", "Below 1.0x the faster baseline:", "", *below_par]
    return "\n".join(lines)


def _below_par_line(
    op: str, shape: str, ours: dict[str, Any], best: dict[str, Any], inductor: dict[str, Any] | None
) -> str:
    """A shape where the op is slower than the faster baseline: both times, and
    the launch configs Inductor kept there (its record's ``config``, from
    2026-12-07 on): its time at one shape has moved by 1.4x between runs."""
    kept = inductor.get("config") if inductor else None
    return (
        f"- {op} {shape}: helion {ours['ms'] * 1e3:.2f} us, {best['contender']} {best['ms'] * 1e3:.2f} us"
        f" ({best['ms'] / ours['ms']:.2f}x); Inductor kept: {kept or 'not recorded'}"
    )


def _targets(ops: list[str], worst_pct: Worst, worst_best: Worst, worst_of_copy: Worst) -> list[str]:
    """Per op, its worst shape against each of issue 5's per-shape targets, and
    (context, not a target) its worst large shape against a same-size copy."""
    lines = [
        "",
        "Targets: each op's worst shape",
        "",
        "| op | % ceiling at >= 64 MB (>= 90) | x best of inductor/liger (>= 1.0) "
        "| context: % of a same-size copy at >= 64 MB |",
        "|---|---|---|---|",
    ]

    def worst(found: Worst, op: str, spec: str, unit: str) -> str:
        return f"{found[op][0]:{spec}}{unit} at {found[op][1]}" if op in found else "-"

    for op in ops:
        cells = (worst(worst_pct, op, ".0f", "%"), worst(worst_best, op, ".2f", ""), worst(worst_of_copy, op, ".0f", "%"))
        lines.append(f"| {op} | {' | '.join(cells)} |")
    return lines


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


def latest_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per (op, shape, contender): a later file's replaces an
    earlier one's (a re-run of some rows over a whole run), so that the
    table, the noise line and the plot all read the same rows."""
    latest: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in records:
        latest[(r["op"], r["shape"], r["contender"])] = r  # in the place of the row it replaces
    return list(latest.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path, help="helion-ops bench --json files (merged)")
    parser.add_argument("--plot", type=Path, help="also write the merged records' plot (PNG)")
    args = parser.parse_args(argv)
    records = latest_records([r for f in args.files for r in json.loads(f.read_text(encoding="utf-8"))])
    print(table(records))
    if args.plot:
        from helion_ops.core import write_bench_plot

        first = records[0]
        write_bench_plot(args.plot, records, title=f"{first['device']}, torch {first['torch']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
