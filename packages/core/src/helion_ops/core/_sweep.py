"""``--effort sweep`` and ``--effort stored``: the project's own config search.

The candidates are Helion's default config, the configs stored already for
the job (``stored_seeds``: this key on every platform, and what the op's
selection picks today) and, for ``sweep``, the op's own candidate configs
(``register_kernel(tuning_configs=...)``) followed by refinement rounds over
the fastest (program-id layouts, loop orders, evict-last loads). Each one is
checked against the op's reference and timed; the fastest that matches wins.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._cli_errors import AutotuneError
from ._config_entries import key_id
from ._errors import HelionOpsError

if TYPE_CHECKING:
    from ._wrapper import HelionKernelWrapper


def config_origin(
    tuned: Any, default: Any, seeds: Sequence[tuple[str, Mapping[str, Any]]], bound: Any, *, searched: str
) -> str:
    """Where a tuned config came from, for its provenance: ``"default"``,
    the label of the first seed it equals (``stored_seeds``: ``"stored
    nvidia_h200"``, say), else ``searched`` (the op's candidates and the
    refinement rounds, or Helion's search)."""
    if tuned == default:
        return "default"
    for label, partial in seeds:
        # A seed this kernel refused was never a candidate.
        if accepted_config(bound, partial) == tuned:
            return label
    return searched


def accepted_config(bound: Any, fields: Mapping[str, Any]) -> Any | None:
    """``helion.Config(**fields)`` completed by the kernel's normalize (which
    fills the fields left out), or None where this kernel refuses it for the
    bound arguments (block sizes the shapes cannot take, a layout or field
    this helion does not know)."""
    import helion

    try:
        config = helion.Config(**fields)
        bound.config_spec.normalize(config)
    except Exception:  # refused: the caller skips it
        return None
    return config


def sweep_candidates(
    wrapper: HelionKernelWrapper,
    args: tuple[Any, ...],
    bound: Any,
    default: Any,
    seeds: Sequence[Mapping[str, Any]] = (),
    *,
    grid: bool = True,
) -> list[Any]:
    """The default config, then the ``seeds`` (configs stored already, see
    ``stored_seeds``), then (with ``grid``) each of the op's candidates, those
    this kernel accepts for ``args``, once each.

    A candidate is a partial config completed as ``helion.Config(**partial)``
    is (Helion's normalize fills the rest), not laid over the default config:
    the default carries size-dependent choices of its own (rotary_embedding's
    ``reduction_loops: [4096]``) that made every rotary candidate as slow as
    the default on the H100 and H200, while the same partial configs alone ran
    3.3x faster (tools/gpu_variants.py)."""
    if grid and wrapper.tuning_configs is None:
        raise AutotuneError(
            f"op {wrapper.op_name!r} has no candidate configs for --effort sweep; pass "
            "register_kernel(tuning_configs=lambda args: [{...}, ...]), or use --effort stored (the configs "
            "stored already) or quick/full"
        )
    found = [default]
    partials = [*seeds, *(wrapper.tuning_configs(args) if grid and wrapper.tuning_configs else ())]
    for partial in partials:
        config = accepted_config(bound, partial)  # None: invalid for this shape, the rest still run
        if config is not None and config not in found:
            found.append(config)
    return found


def stored_seeds(
    wrapper: HelionKernelWrapper,
    key: Mapping[str, Any],
    platform: str,
    args: tuple[Any, ...],
    variant: str | None = None,
) -> list[tuple[str, dict[str, Any]]]:
    """The configs already stored that bear on a job, each once with a label
    for provenance: the entry for ``key`` on ``platform`` (``"stored
    nvidia_h100"``), then on every other platform the op has configs for (an
    H200's tuning when tuning an H100), then the entry the op's selection
    picks for ``args`` on ``platform`` today (a neighbouring key's:
    ``"stored nvidia_h100 hidden=4096,numtokens=256"``).

    Timed beside the candidate grid, they keep a re-tune from ending slower
    than what ships, and let a GPU close to one tuned already start from its
    winners (whose refinement rounds the grid alone would have to repeat).
    Only entries for the kernel being tuned (``variant``; None: the op's own
    function) count: another variant's config belongs to another kernel."""
    from ._selection import ConfigSelector

    store, wanted = wrapper.config_store, key_id(key)
    found: list[tuple[str, dict[str, Any]]] = []

    def add(label: str, config: Mapping[str, Any]) -> None:
        if all(dict(config) != seen for _, seen in found):
            found.append((label, dict(config)))

    # The target's entries, read once: its own entry comes first, then the other platforms'.
    entries = store.load(wrapper.op_name, platform)
    for other in [platform, *(name for name in store.platforms(wrapper.op_name) if name != platform)]:
        entry = (entries if other == platform else store.load(wrapper.op_name, other)).get(wanted)
        if entry is not None and entry.variant == variant:
            add(f"stored {other}", entry.config)
    if entries:
        selector = ConfigSelector(
            wrapper.op_name, wrapper.raw_kernel_func, entries, config_picker=wrapper.config_picker, keys=wrapper.keys
        )
        with contextlib.suppress(HelionOpsError):  # a picker that names no stored key: no seed from it
            picked_key = selector.select(args)
            picked = entries.get(picked_key)
            if picked is not None and picked.variant == variant:
                add(f"stored {platform} {picked_key}", picked.config)
    return found


# After the op's candidates, the fastest few are timed again with each other
# program-id layout the kernel allows (Helion's persistent layouts: one
# program per SM looping over tiles, which spares the scheduling of tens of
# thousands of short programs, as in rms_norm and per_token_group_fp8_quant
# at hidden 2048 x 16384 tokens, the two ops' worst shapes on the H200).
REFINED_CANDIDATES = 2


def pid_type_variants(config: Any, bound: Any) -> list[Any]:
    """``config`` with each other program-id layout (``pid_type``) that the
    kernel's config spec allows and accepts for these arguments."""
    fields = dict(config.config)
    current = fields.get("pid_type", "flat")
    found = []
    for pid_type in getattr(bound.config_spec, "allowed_pid_types", ()):
        if pid_type == current:
            continue
        variant = accepted_config(bound, {**fields, "pid_type": pid_type})
        if variant is not None:  # None: a layout this kernel refuses for these shapes
            found.append(variant)
    return found


def loop_order_variants(config: Any, bound: Any) -> list[Any]:
    """``config`` with the order of every multi-dimensional tile loop reversed
    (Helion's ``loop_orders``), where the kernel has such loops and accepts it.

    In Helion's default order the first dimension's blocks take the fastest
    moving program ids: neighbouring programs of a [tokens, columns] tile
    walk down the tokens, each a row apart in memory. Reversed, they walk
    along a row as Inductor's flat pointwise kernels do. On an H200,
    silu_and_mul at 14336 x 16384: Inductor 4.38 TB/s, the tuned tiles 4.26,
    the same tiles columns first 4.45 (docs/benchmarks.md, fifth run)."""
    fields = dict(config.config)
    orders = fields.get("loop_orders")
    if not orders or all(len(order) < 2 for order in orders):
        return []
    variant = accepted_config(bound, {**fields, "loop_orders": [list(reversed(order)) for order in orders]})
    return [] if variant is None else [variant]  # None: a helion or kernel that refuses it


def eviction_variants(config: Any, bound: Any) -> list[Any]:
    """``config`` with every load marked evict-last (Helion's
    ``load_eviction_policies``), where the kernel has loads and accepts it.

    On an H200 (tools/gpu_variants.py --only eviction, 2026-11-28) that alone
    took the stored configs level with Inductor at 16384 tokens: rms_norm
    8192 133.8 -> 129.3 us (Inductor 129.2), fused_add_rms_norm 4096 136.4 ->
    131.5 (130.7), silu_and_mul 8192 194.3 -> 190.7 (188.7); the row loops
    read their row a second time, from L2 if it was kept there. Evict-first
    was slower in all five cases measured, so it is not tried."""
    fields = dict(config.config)
    policies = fields.get("load_eviction_policies")
    if not policies or all(p == "last" for p in policies):
        return []
    variant = accepted_config(bound, {**fields, "load_eviction_policies": ["last"] * len(policies)})
    return [] if variant is None else [variant]  # None: a helion or kernel that refuses it


def sweep(
    wrapper: HelionKernelWrapper,
    args: tuple[Any, ...],
    bound: Any,
    default: Any,
    budget_seconds: int | None,
    *,
    timer: Callable[[Callable[[], object]], float],
    seeds: Sequence[Mapping[str, Any]] = (),
    grid: bool = True,
) -> Any:
    """The fastest config that computes what the op's reference does, of
    ``sweep_candidates`` (the default, the ``seeds`` and, with ``grid``, the
    op's candidates), then (with ``grid``) of the ``pid_type_variants`` of
    the ``REFINED_CANDIDATES`` fastest of those, then of the
    ``loop_order_variants`` and then the ``eviction_variants`` of the
    ``REFINED_CANDIDATES`` fastest of all so far.

    Each candidate is compiled, run on private copies of ``args`` and checked
    against what the reference computed once on its own copy (outputs and
    every argument written in place; see ``_compare``), then timed (``timer``,
    see ``tuning_timer``) on another private copy; a candidate that fails to compile, fails to run or
    differs is dropped. With ``budget_seconds``, no new candidate starts after
    the budget once one has passed.

    Why not Helion's FiniteSearch (used here before): on the H100 it returned
    the default config for every job of the two in-place ops
    (fused_add_rms_norm, rotary_embedding; tuned time equal to the default's in
    all 11 jobs), while rotary's candidates measured 3.3x faster than the
    default (tools/gpu_variants.py); this loop also checks against the
    reference rather than against the default config.
    """
    from ._compare import clone_args, compare_to_expected, expected_results, tolerance_for

    candidates = sweep_candidates(wrapper, args, bound, default, seeds, grid=grid)
    atol, rtol = tolerance_for(args)
    try:
        expected = None if wrapper.reference is None else expected_results(wrapper.reference, args)
    except Exception as exc:
        raise AutotuneError(
            f"op {wrapper.op_name!r}: its reference failed on the tuning inputs ({type(exc).__name__}: {exc}), "
            "so no candidate config can be checked; fix the reference or the input generator"
        ) from exc
    deadline = None if budget_seconds is None else time.monotonic() + budget_seconds
    timed: list[tuple[float, int, Any]] = []  # (ms, order tried, config)
    tried = list(candidates)
    # Why candidates were dropped, for the error when none is left.
    largest_difference, first_error = 0.0, None

    def attempt(config: Any) -> None:
        nonlocal largest_difference, first_error
        try:
            bound.set_config(config)
            if expected is not None:
                checked = compare_to_expected(bound, args, expected, f"op {wrapper.op_name!r}", atol=atol, rtol=rtol)
                if not checked.close:
                    largest_difference = max(largest_difference, checked.max_abs)
                    return
            work = clone_args(args)

            def run_candidate(work: tuple[Any, ...] = work) -> object:
                return bound(*work)

            timed.append((float(timer(run_candidate)), len(timed), config))
        except Exception as exc:  # a candidate this kernel or GPU cannot run: the others still count
            first_error = first_error or f"{type(exc).__name__}: {exc}"

    def spent() -> bool:
        return deadline is not None and time.monotonic() > deadline and bool(timed)

    for config in candidates:
        if spent():
            break
        attempt(config)
    # Three refinement rounds, each over the fastest configs found so far
    # (a grid-less run re-chooses among stored configs only).
    for variants_of in (pid_type_variants, loop_order_variants, eviction_variants) if grid else ():
        for _, _, config in sorted(timed, key=lambda t: t[:2])[:REFINED_CANDIDATES]:
            for variant in variants_of(config, bound):
                if variant in tried or spent():
                    continue
                tried.append(variant)
                attempt(variant)
    if not timed:
        # Before, the default came back as if tuned: a job whose every
        # candidate differed from the reference looked like a tuned one.
        raise AutotuneError(
            f"op {wrapper.op_name!r}: none of {len(tried)} candidate configs (Helion's default included) "
            f"matched the reference within atol={atol}, rtol={rtol} (largest difference {largest_difference:.3g}"
            f"{'; first error: ' + first_error[:200] if first_error else ''}); the job fails and the op keeps "
            "its other entries: check the kernel against its reference at this shape"
        )
    return min(timed, key=lambda t: t[:2])[2]
