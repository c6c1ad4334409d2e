"""Compare the configs two tuning runs chose, timed side by side in one process.

    python tools/compare_tuned.py DIR_A DIR_B [--platform nvidia_h100] [--rounds 5]

For every (op, key) tuned in both config directories (the ``--out`` of two
``helion-ops autotune`` runs), the two chosen configs run on the shape they
were tuned on (the ``provenance.shape`` of the entry) and are timed as tuning
times them (``tuning_timer``: CUDA-graph replays up to 256 tokens, flushed medians
above), alternately A, B, A, B, ... so drift hits both. Printed per job:
median ms of each, B/A, and the noise of this run: the largest spread
(max/min - 1) over the rounds of one config. Issue 11's quality check:
`--gpus all` on one GPU against the sequential path.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path
from typing import Any


def _jobs(dir_a: Path, dir_b: Path, platform: str) -> list[tuple[str, str, Any, Any]]:
    """(op, shape, entry A, entry B) for every key tuned in both directories."""
    from helion_ops.core import ConfigStore

    store_a, store_b = ConfigStore([dir_a]), ConfigStore([dir_b])
    ops = sorted(p.name for p in dir_a.iterdir() if p.is_dir() and (dir_b / p.name).is_dir())
    jobs = []
    for op in ops:
        entries_a, entries_b = store_a.load(op, platform), store_b.load(op, platform)
        for key_id in sorted(set(entries_a) & set(entries_b)):
            shape = entries_a[key_id].extra.get("provenance", {}).get("shape")
            if shape:
                jobs.append((op, shape, entries_a[key_id], entries_b[key_id]))
    return jobs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dir_a", type=Path)
    parser.add_argument("dir_b", type=Path)
    parser.add_argument("--platform", default=None, help="default: this GPU's platform")
    parser.add_argument("--rounds", type=int, default=5)
    opts = parser.parse_args()

    import helion

    from helion_ops.core import current_platform, get_kernel, load_entry_points
    from helion_ops.core._autotune import tuning_timer
    from helion_ops.core._compare import clone_args
    from helion_ops.core._shapes import generate_inputs

    load_entry_points()
    platform = opts.platform or current_platform()
    jobs = _jobs(opts.dir_a, opts.dir_b, platform)
    print(f"{len(jobs)} jobs tuned in both ({platform}); {opts.rounds} alternating rounds each", flush=True)
    print("| op | shape | A ms | B ms | B/A | noise | same config |", flush=True)
    print("|---|---|---|---|---|---|---|", flush=True)
    ratios, noises = [], []
    inputs: dict[str, dict[str, tuple[Any, ...]]] = {}
    for op, shape, entry_a, entry_b in jobs:
        wrapper = get_kernel(op)
        if op not in inputs:
            inputs.clear()
            inputs[op] = generate_inputs(wrapper)
        args = inputs[op][shape]
        timer = tuning_timer(shape, args)
        kernels = []
        for entry in (entry_a, entry_b):
            # Each config on the kernel it was tuned for (the op's own, or the variant the entry names).
            kernel = helion.kernel(
                wrapper.function_of(entry.variant),
                **{**wrapper.helion_settings, "static_shapes": False},
                config=helion.Config(**entry.config),
            )
            work = clone_args(args)
            kernel(*work)  # compile outside the timing
            kernels.append((kernel, work))
        times: list[list[float]] = [[], []]
        for _ in range(opts.rounds):
            for i, (kernel, work) in enumerate(kernels):
                times[i].append(float(timer(lambda k=kernel, w=work: k(*w))))
        med_a, med_b = statistics.median(times[0]), statistics.median(times[1])
        noise = max(max(t) / min(t) - 1 for t in times)
        ratios.append(med_b / med_a)
        noises.append(noise)
        print(
            f"| {op} | {shape} | {med_a:.4f} | {med_b:.4f} | {med_b / med_a:.3f} | {noise * 100:.1f}% | "
            f"{(entry_a.variant, entry_a.config) == (entry_b.variant, entry_b.config)} |",
            flush=True,
        )
    if ratios:
        geo = statistics.geometric_mean(ratios)
        print(
            f"geomean B/A {geo:.3f}; B/A range {min(ratios):.3f}-{max(ratios):.3f}; "
            f"largest same-config spread {max(noises) * 100:.1f}%",
            flush=True,
        )


if __name__ == "__main__":
    main()
