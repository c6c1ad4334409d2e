"""``--effort sweep``'s candidate loop (``_sweep.sweep``), on CPU in Triton's interpreter.

The op writes its input in place, as fused_add_rms_norm and rotary_embedding
do: the loop must check and time candidates on private copies (the caller's
arguments stay as they were) and judge them by the reference. A proxy around
the real bound kernel makes one candidate fail to compile and another write a
wrong result; a stand-in timer gives each candidate a fixed time, so which
candidate wins is known in advance.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import helion.language as hl
import pytest
import torch
from op_names import unique

from helion_ops.core import interpreter_active, register_kernel
from helion_ops.core._autotune import bind_for_tuning
from helion_ops.core._cli_errors import AutotuneError
from helion_ops.core._sweep import sweep, sweep_candidates

pytestmark = pytest.mark.skipif(
    torch.cuda.is_available() or not interpreter_active(),
    reason="runs Helion kernels on CPU tensors: needs TRITON_INTERPRET=1 and platform 'cpu'",
)

BROKEN, WRONG = 4, 2
# Stand-in time (ms) per candidate, by rows per program: 4 and 2 would win
# if their results counted; of the rest, 8 is the fastest.
TIMES = {1: 5.0, 2: 0.1, 4: 0.2, 8: 1.0, 16: 3.0, 32: 4.0}


def _scale_in_place(x: torch.Tensor, w: torch.Tensor) -> None:
    for rows in hl.tile(x.size(0)):
        x[rows, :] = x[rows, :] * w[None, :]


def _reference(x: torch.Tensor, w: torch.Tensor) -> None:
    x.mul_(w)


def _candidates(args: tuple[Any, ...]) -> list[dict[str, Any]]:
    return [{"block_sizes": [rows]} for rows in (1, 2, 4, 8, 16)]


def _rows(config: Any) -> int:
    return int(config.config["block_sizes"][0])


class _Proxy:
    """The real bound kernel, except that one candidate fails to compile and another writes wrong values."""

    def __init__(self, bound: Any) -> None:
        self._bound = bound
        self.rows = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._bound, name)

    def set_config(self, config: Any) -> None:
        self.rows = _rows(config)
        if self.rows == BROKEN:
            raise RuntimeError("stand-in compile failure")
        self._bound.set_config(config)

    def __call__(self, *args: Any) -> Any:
        out = self._bound(*args)
        if self.rows == WRONG:
            args[0].add_(1.0)
        return out


def _timer(proxy: _Proxy, timed: list[int]) -> Callable[[Callable[[], object]], float]:
    def timer(fn: Callable[[], object]) -> float:
        fn()
        timed.append(proxy.rows)
        return TIMES[proxy.rows]

    return timer


class _LayoutProxy(_Proxy):
    """Records each configured program-id layout, and runs it as the flat one
    (Helion's persistent layouts need a GPU's SM count: on CPU they raise);
    its timer makes 8 rows with a persistent layout the fastest, and 16
    rows' persistent layouts slow."""

    def __init__(self, bound: Any) -> None:
        super().__init__(bound)
        self.pid_type = "flat"
        self.evict_last = False
        self.tried: list[tuple[int, str, bool]] = []

    def set_config(self, config: Any) -> None:
        import helion

        self.pid_type = str(config.config.get("pid_type", "flat"))
        policies = config.config.get("load_eviction_policies") or []
        self.evict_last = bool(policies) and all(p == "last" for p in policies)
        super().set_config(helion.Config(**{**config.config, "pid_type": "flat"}))
        self.tried.append((self.rows, self.pid_type, self.evict_last))

    def time(self, fn: Callable[[], object]) -> float:
        fn()
        if self.pid_type != "flat":
            ms = {8: 0.5, 16: 9.0}.get(self.rows, 9.0) + (0.1 if self.pid_type == "persistent_blocked" else 0.0)
        else:
            ms = TIMES[self.rows]
        return ms * (0.5 if self.evict_last else 1.0)


@pytest.fixture
def op(names: list[str]) -> Any:
    names.append(unique("sweep_in_place"))
    return register_kernel(names[-1], reference=_reference, tuning_configs=_candidates, mutates_args=("x",))(
        _scale_in_place
    )


def _args() -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(37, 16), torch.randn(16)


def test_sweep_keeps_the_fastest_candidate_that_matches_the_reference(op: Any) -> None:
    args = _args()
    before = args[0].clone()
    bound = bind_for_tuning(op, args, "sweep", None)
    default = bound.config_spec.default_config()
    proxy, timed = _Proxy(bound), []
    best = sweep(op, args, proxy, default, None, timer=_timer(proxy, timed))
    assert _rows(best) == 8
    # The broken and the wrong candidate were never timed; every other one was.
    assert BROKEN not in timed and WRONG not in timed
    assert sorted(set(timed)) == sorted(
        {_rows(c) for c in sweep_candidates(op, args, bound, default)} - {BROKEN, WRONG}
    )
    # Checked and timed on copies: the caller's (in-place) argument is untouched.
    torch.testing.assert_close(args[0], before, rtol=0, atol=0)


def test_the_fastest_candidates_are_retried_with_each_program_id_layout(op: Any) -> None:
    """After the op's candidates, the two fastest (8 rows, then 16) are timed
    again with each other pid_type the kernel allows (checked against the
    reference like every candidate); a faster layout wins."""
    args = _args()
    bound = bind_for_tuning(op, args, "sweep", None)
    default = bound.config_spec.default_config()
    layouts = [p for p in bound.config_spec.allowed_pid_types if p != "flat"]
    assert layouts, "this helion offers no program-id layout besides flat"
    proxy = _LayoutProxy(bound)
    best = sweep(op, args, proxy, default, None, timer=proxy.time)
    fastest = "persistent_interleaved" if "persistent_interleaved" in layouts else layouts[0]
    assert (_rows(best), best.config["pid_type"]) == (8, fastest)
    variants = [(rows, pid) for rows, pid, evict_last in proxy.tried if pid != "flat" and not evict_last]
    assert sorted(variants) == sorted((rows, pid) for rows in (8, 16) for pid in layouts)


def test_then_the_fastest_so_far_are_retried_with_loads_kept_in_l2(op: Any) -> None:
    """The last round: the two fastest configs of all so far (here 8 rows in
    its two persistent layouts) again with every load marked evict-last; the
    stand-in timer halves their time, so the fastest wins with that marking."""
    args = _args()
    bound = bind_for_tuning(op, args, "sweep", None)
    default = bound.config_spec.default_config()
    proxy = _LayoutProxy(bound)
    best = sweep(op, args, proxy, default, None, timer=proxy.time)
    layouts = [p for p in bound.config_spec.allowed_pid_types if p != "flat"]
    fastest = "persistent_interleaved" if "persistent_interleaved" in layouts else layouts[0]
    assert (_rows(best), best.config["pid_type"]) == (8, fastest)
    assert best.config["load_eviction_policies"] == ["last"] * len(best.config["load_eviction_policies"]) != []
    retried = sorted((rows, pid) for rows, pid, evict_last in proxy.tried if evict_last)
    if set(layouts) == {"persistent_blocked", "persistent_interleaved"}:  # helion 1.1 to 1.5
        assert retried == [(8, "persistent_blocked"), (8, "persistent_interleaved")]
    else:
        assert len(retried) == 2 and (8, fastest) in retried


def _scale_tiles_in_place(x: torch.Tensor, w: torch.Tensor) -> None:
    for rows, cols in hl.tile([x.size(0), x.size(1)]):
        x[rows, cols] = x[rows, cols] * w[None, cols]


def _tile_candidates(args: tuple[Any, ...]) -> list[dict[str, Any]]:
    return [{"block_sizes": [rows, 8]} for rows in (1, 2, 4, 8, 16)]


class _LoopOrderProxy(_Proxy):
    """Records each configured loop order and program-id layout; its timer
    makes column-first programs (``loop_orders`` [[1, 0]]) twice as fast and
    any layout but flat a little slower."""

    def __init__(self, bound: Any) -> None:
        super().__init__(bound)
        self.order: list[int] = [0, 1]
        self.pid_type = "flat"
        self.tried: list[tuple[int, str, tuple[int, ...]]] = []

    def set_config(self, config: Any) -> None:
        self.order = list(config.config.get("loop_orders", [[0, 1]])[0])
        self.pid_type = str(config.config.get("pid_type", "flat"))
        super().set_config(config)
        self.tried.append((self.rows, self.pid_type, tuple(self.order)))

    def time(self, fn: Callable[[], object]) -> float:
        fn()
        ms = TIMES[self.rows] + (0.0 if self.pid_type == "flat" else 0.1)
        return ms * (0.5 if self.order == [1, 0] else 1.0)


def test_the_fastest_so_far_are_retried_with_their_tile_loop_reversed(names: list[str]) -> None:
    """A [rows, columns] tile loop: after the layouts, the two fastest configs
    again with the loop order reversed (columns' blocks the fastest-moving
    program ids), checked like every candidate; the faster order wins."""
    names.append(unique("sweep_tiles"))
    op = register_kernel(names[-1], reference=_reference, tuning_configs=_tile_candidates, mutates_args=("x",))(
        _scale_tiles_in_place
    )
    args = _args()
    before = args[0].clone()
    bound = bind_for_tuning(op, args, "sweep", None)
    default = bound.config_spec.default_config()
    proxy = _LoopOrderProxy(bound)
    best = sweep(op, args, proxy, default, None, timer=proxy.time)
    assert (_rows(best), best.config["loop_orders"], best.config.get("pid_type", "flat")) == (8, [[1, 0]], "flat")
    reversed_tries = {(rows, pid) for rows, pid, order in proxy.tried if order == (1, 0)}
    # The two fastest so far: 8 rows flat and 8 rows in its fastest other
    # layout (where this helion runs one on CPU), else 16 rows flat.
    assert len(reversed_tries) == 2 and (8, "flat") in reversed_tries, proxy.tried
    assert reversed_tries <= {(8, pid) for pid in ("flat", *bound.config_spec.allowed_pid_types)} | {(16, "flat")}
    torch.testing.assert_close(args[0], before, rtol=0, atol=0)


def test_one_dimensional_tile_loops_get_no_loop_order_variant(op: Any) -> None:
    from helion_ops.core._sweep import loop_order_variants

    bound = bind_for_tuning(op, _args(), "sweep", None)
    assert loop_order_variants(bound.config_spec.default_config(), bound) == []


def test_a_spent_budget_stops_after_the_first_candidate_that_passes(op: Any) -> None:
    args = _args()
    bound = bind_for_tuning(op, args, "sweep", None)
    default = bound.config_spec.default_config()
    proxy, timed = _Proxy(bound), []
    best = sweep(op, args, proxy, default, 0, timer=_timer(proxy, timed))
    assert timed == [_rows(default)] and best == default


def test_a_job_whose_every_candidate_differs_fails_instead_of_keeping_the_default(op: Any) -> None:
    """The default config is a candidate too: when it and every other one
    differ from the reference (or fail), the sweep raises rather than
    returning the default as if it were tuned."""
    args = _args()
    bound = bind_for_tuning(op, args, "sweep", None)
    default = bound.config_spec.default_config()

    class _AllWrong(_Proxy):
        def __call__(self, *call_args: Any) -> Any:
            out = self._bound(*call_args)
            call_args[0].add_(1.0)
            return out

    proxy = _AllWrong(bound)
    with pytest.raises(AutotuneError, match=r"none of \d+ candidate configs .*matched the reference.*largest difference 1"):
        sweep(op, args, proxy, default, None, timer=_timer(proxy, []))


def test_a_reference_that_raises_fails_the_job(op: Any) -> None:
    args = _args()
    bound = bind_for_tuning(op, args, "sweep", None)
    default = bound.config_spec.default_config()
    op.reference = lambda x, w: (_ for _ in ()).throw(ValueError("reference broke"))
    with pytest.raises(AutotuneError, match=r"its reference failed on the tuning inputs \(ValueError: reference broke\)"):
        sweep(op, args, bound, default, None, timer=lambda fn: 1.0)


@pytest.mark.parametrize(
    ("shape", "tokens", "method"),
    [
        ("hidden=16,numtokens=1", 1, "cudagraph"),
        ("hidden=16,numtokens=256", 256, "cudagraph"),
        ("hidden=16,numtokens=4096", 4096, "flushed"),
        ("", 300, "flushed"),
        ("", 37, "cudagraph"),
    ],
)
def test_tuning_times_decode_shapes_with_cuda_graphs(
    monkeypatch: pytest.MonkeyPatch, shape: str, tokens: int, method: str
) -> None:
    """As the bench does: decode shapes (<= 256 tokens, by the shape's name or
    the first tensor's rows) by CUDA-graph replays, larger ones by flushed medians."""
    from helion_ops.core import _timing
    from helion_ops.core._autotune import tuning_timer

    used: list[str] = []
    monkeypatch.setattr(_timing, "time_ms", lambda fn, how: used.append(how) or 1.0)
    timer = tuning_timer(shape, (torch.randn(tokens, 16), torch.randn(16)))
    assert timer(lambda: None) == 1.0 and used == [method]


def test_stored_effort_times_the_default_and_the_stored_configs_alone(op: Any) -> None:
    """``--effort stored`` (grid=False): the default and the seeds, checked
    and timed like candidates; neither the op's candidate grid nor a
    refinement round (layouts, loop orders, evict-last) is tried. A seed
    that fails to compile is dropped like any candidate."""
    args = _args()
    bound = bind_for_tuning(op, args, "stored", None)
    default = bound.config_spec.default_config()
    proxy = _LayoutProxy(bound)
    seeds = [{"block_sizes": [8]}, {"block_sizes": [BROKEN]}]
    best = sweep(op, args, proxy, default, None, timer=proxy.time, seeds=seeds, grid=False)
    assert _rows(best) == 8
    assert {rows for rows, _, _ in proxy.tried} == {_rows(default), 8}
    assert all(pid == "flat" and not evict_last for _, pid, evict_last in proxy.tried), proxy.tried


def test_a_sweep_tries_the_stored_configs_right_after_the_default(op: Any) -> None:
    """Seeds come before the grid and count once; one the kernel refuses for
    these arguments (a block list of the wrong length) is skipped."""
    args = _args()
    bound = bind_for_tuning(op, args, "sweep", None)
    default = bound.config_spec.default_config()
    seed = {"block_sizes": [32], "num_warps": 2}
    found = sweep_candidates(op, args, bound, default, [seed, {"block_sizes": [8, 8, 8]}, seed])
    assert found[0] == default
    assert (_rows(found[1]), found[1].config["num_warps"]) == (32, 2)
    grid_rows = [_rows(c) for c in found[2:]]
    assert grid_rows == sorted(grid_rows) and set(grid_rows) >= {1, 2, 4, 8, 16} - {_rows(default)}
    assert sum(1 for c in found if c.config.get("num_warps") == 2 and _rows(c) == 32) == 1


def test_an_op_without_candidates_can_still_be_re_chosen_among_stored_configs(names: list[str]) -> None:
    names.append(unique("sweep_no_grid"))
    bare = register_kernel(names[-1], reference=_reference, mutates_args=("x",))(_scale_in_place)
    args = _args()
    bound = bind_for_tuning(bare, args, "sweep", None)
    default = bound.config_spec.default_config()
    with pytest.raises(AutotuneError, match=r"has no candidate configs for --effort sweep.*--effort stored"):
        sweep_candidates(bare, args, bound, default)
    found = sweep_candidates(bare, args, bound, default, [{"block_sizes": [8]}], grid=False)
    assert [_rows(c) for c in found][1:] == [8]


def test_stored_seeds_are_this_key_on_every_platform_then_what_the_target_picks_today(
    names: list[str], tmp_path: Any
) -> None:
    """Tuning rows=37 for nvidia_h100: the nvidia_h200 entry of that exact
    key (another GPU's winner), then the entry the selection picks on
    nvidia_h100 now (the nearest key, rows=64: the same config, kept once).
    Tuning rows=64 on 16-row arguments: nvidia_h100's own entry of that key
    first, then nvidia_h200's, then the one picked today (rows=16)."""
    import json

    from helion_ops.core._sweep import stored_seeds

    names.append(unique("sweep_seeds"))
    op_dir = tmp_path / names[-1]
    op_dir.mkdir()
    h200 = [
        {"key": {"rows": 37}, "config": {"block_sizes": [8], "num_warps": 2}},
        {"key": {"rows": 64}, "config": {"block_sizes": [16]}},
    ]
    h100 = [
        {"key": {"rows": 16}, "config": {"block_sizes": [4]}},
        {"key": {"rows": 64}, "config": {"block_sizes": [8], "num_warps": 2}},
    ]
    (op_dir / "nvidia_h200.json").write_text(json.dumps(h200))
    (op_dir / "nvidia_h100.json").write_text(json.dumps(h100))
    seeded = register_kernel(
        names[-1], reference=_reference, keys={"rows": ("x", 0)}, configs=tmp_path, mutates_args=("x",)
    )(_scale_in_place)
    args = _args()
    assert stored_seeds(seeded, {"rows": 37}, "nvidia_h100", args) == [
        ("stored nvidia_h200", {"block_sizes": [8], "num_warps": 2})
    ]
    small = (torch.randn(16, 16), torch.randn(16))
    assert stored_seeds(seeded, {"rows": 64}, "nvidia_h100", small) == [
        ("stored nvidia_h100", {"block_sizes": [8], "num_warps": 2}),
        ("stored nvidia_h200", {"block_sizes": [16]}),
        ("stored nvidia_h100 rows=16", {"block_sizes": [4]}),
    ]
    assert stored_seeds(seeded, {"rows": 99}, "nvidia_b200", args) == []


def test_a_tuned_config_is_traced_to_the_default_a_stored_entry_or_the_search(op: Any) -> None:
    """Provenance's ``origin``: the default, the first seed the tuned config
    equals once Helion completes it, else what was searched. A seed the
    kernel refuses is passed over."""
    import helion

    from helion_ops.core._sweep import config_origin

    args = _args()
    bound = bind_for_tuning(op, args, "sweep", None)
    default = bound.config_spec.default_config()
    # Block sizes other than the default's, whatever this helion's default is.
    seed_rows, other = [r for r in (8, 16, 4, 32) if r != _rows(default)][:2]
    seeds = [("stored nvidia_h100", {"block_sizes": [8, 8, 8]}), ("stored nvidia_h200", {"block_sizes": [seed_rows]})]

    def tuned(rows: int) -> Any:
        config = helion.Config(block_sizes=[rows])
        bound.config_spec.normalize(config)
        return config

    assert config_origin(default, default, seeds, bound, searched="candidates") == "default"
    assert config_origin(tuned(seed_rows), default, seeds, bound, searched="candidates") == "stored nvidia_h200"
    assert config_origin(tuned(other), default, seeds, bound, searched="candidates") == "candidates"
