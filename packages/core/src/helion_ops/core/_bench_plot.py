"""``helion-ops bench --plot``: TB/s per shape, one subplot per op, one line per
contender, the copy ceiling as a horizontal line. matplotlib is optional and
imported only here."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ._cli_errors import MissingDependencyError, OutputPathError

MARKERS = {"helion": "o", "torch": "s", "inductor": "^", "liger": "D", "copy": "x"}
# One colour per contender in every subplot (by default the colour cycle
# restarts per subplot, and the copy took Liger's colour where Liger has no line).
COLORS = {"helion": "C0", "torch": "C1", "inductor": "C2", "liger": "C3", "copy": "C4"}


def require_matplotlib() -> None:
    """Fail before any measurement when --plot cannot be honoured."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise MissingDependencyError(
            "--plot needs matplotlib, which is not installed; pip install matplotlib (or drop --plot)"
        ) from None


def _series(records: Sequence[Mapping[str, Any]], op: str) -> tuple[list[str], dict[str, list[float]]]:
    shapes: list[str] = []
    for r in records:
        if r["op"] == op and r["shape"] not in shapes:
            shapes.append(r["shape"])
    lines: dict[str, list[float]] = {}
    for r in records:
        if r["op"] != op:
            continue
        ys = lines.setdefault(r["contender"], [math.nan] * len(shapes))
        if r["tbps"] is not None:
            ys[shapes.index(r["shape"])] = float(r["tbps"])
    # A contender with no number for this op (n/a everywhere) gets no line.
    return shapes, {c: ys for c, ys in lines.items() if not all(math.isnan(y) for y in ys)}


def _op_ceilings(records: Sequence[Mapping[str, Any]], op: str, ceiling_tbps: float | None) -> list[float]:
    """``[ceiling_tbps]``, else the copy ceilings the op's own records carry:
    one per ``helion-ops bench`` process that measured the op (several where a
    later run's rows replace some of an earlier one's)."""
    if ceiling_tbps is not None:
        return [ceiling_tbps]
    found = sorted({float(r["copy_ceiling_tbps"]) for r in records if r["op"] == op and r.get("copy_ceiling_tbps")})
    if not found:
        raise ValueError(f"op {op!r}: expected a copy ceiling in its records, found none; pass ceiling_tbps")
    return found


def build_figure(records: Sequence[Mapping[str, Any]], ceiling_tbps: float | None = None, title: str = "") -> Any:
    """The matplotlib Figure: one subplot per op, shapes on x, TB/s on y, the
    copy ceiling (``ceiling_tbps``, else each op's records' own) as a dashed
    line, one per ceiling where the op's rows come from several runs."""
    require_matplotlib()
    import matplotlib

    matplotlib.use("Agg", force=True)  # no display needed
    import matplotlib.pyplot as plt

    ops = list(dict.fromkeys(r["op"] for r in records))
    if not ops:
        raise ValueError("no records to plot")
    fig, axes = plt.subplots(len(ops), 1, figsize=(14, 4.5 * len(ops)), squeeze=False)
    for ax, op in zip(axes[:, 0], ops, strict=True):
        ceilings = _op_ceilings(records, op, ceiling_tbps)
        shapes, lines = _series(records, op)
        xs = list(range(len(shapes)))
        for contender, ys in lines.items():
            ax.plot(xs, ys, marker=MARKERS.get(contender, "+"), color=COLORS.get(contender), label=contender)
        for i, ceiling in enumerate(ceilings):
            of_runs = f" (run {i + 1} of {len(ceilings)})" if len(ceilings) > 1 else ""
            ax.axhline(
                ceiling, color="black", linestyle="--", linewidth=1, label=f"copy ceiling {ceiling:.2f} TB/s{of_runs}"
            )
        ax.set_title(op)
        ax.set_xlabel("shape")
        ax.set_ylabel("TB/s")
        ax.set_xticks(xs)
        ax.set_xticklabels(shapes, rotation=45, ha="right", fontsize=7)
        ax.set_ylim(bottom=0, top=max(*ceilings, *(y for ys in lines.values() for y in ys if not math.isnan(y))) * 1.1)
        ax.grid(True, alpha=0.3)
        # Beside the axes, not over them: "best" still covered data points
        # where the lines fill the plot (H200 fifth run, silu_and_mul).
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    if title:
        fig.suptitle(title)
    # tight_layout ignores the suptitle: keep half an inch above the first
    # plot's own title for it (the 2026-11-28 H100 plot printed one over the other).
    fig.tight_layout(rect=(0.0, 0.0, 1.0, 1.0 - (0.5 / fig.get_figheight() if title else 0.0)))
    return fig


def write_bench_plot(
    path: str | Path, records: Sequence[Mapping[str, Any]], ceiling_tbps: float | None = None, title: str = ""
) -> None:
    """Write the plot of ``helion-ops bench --json`` records (PNG, SVG or PDF by
    the suffix); OutputPathError if it cannot be written."""
    fig = build_figure(records, ceiling_tbps, title)
    import matplotlib.pyplot as plt

    try:
        fig.savefig(str(path), dpi=110)
    except OSError as exc:
        raise OutputPathError(f"--plot {str(path)!r}: cannot write the plot ({exc.strerror or exc})") from exc
    finally:
        plt.close(fig)
