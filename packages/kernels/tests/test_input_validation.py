"""Bad inputs for every shipped op: each gets an InputValidationError naming the
op, the argument, what was expected and what was found, before any launch.

The table is built per op from its signature (every tensor argument gets a
wrong dtype, a wrong rank, a non-tensor, another device, a non-unit last
stride; written arguments an overlapping layout) plus the op's own shape
rules. Each case runs on two paths:

* eager: the wrapper's call (``validate`` before the Triton interpreter launch);
* trace time: ``torch.compile(fullgraph=True, backend="aot_eager")``, where the
  bridge calls ``validate`` on the FakeTensors in ``WrapperCallVariable``.

On CPU the "other device" is ``meta``. Zero tokens are not an error: they
return empty outputs (eager and compiled), and a zero-token call with a bad
argument is still refused. Finally, a compiled function does not validate on
later calls, on the HOP path and on the custom-op path.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
import torch
from hardening_ops import OPS, Op, clone_args, hop_refuses, results

from helion_ops import dynamo_bridge
from helion_ops.core import InputValidationError, interpreter_active
from helion_ops.dynamo_bridge import _prepare

pytestmark = pytest.mark.skipif(
    torch.cuda.is_available() or not interpreter_active(),
    reason="CPU tensors through Triton's interpreter: needs TRITON_INTERPRET=1 and no GPU",
)

GPU_OR_INTERPRETER = r"must be on a GPU \(cuda or xpu\), or on cpu with TRITON_INTERPRET=1, found meta"


@dataclasses.dataclass(frozen=True)
class Case:
    op: str
    id: str
    mutate: Callable[[dict[str, Any]], None]
    match: str  # after "op '<name>': "

    @property
    def param_id(self) -> str:
        return f"{self.op}-{self.id}"


def _strided_last(t: torch.Tensor) -> torch.Tensor:
    """The same values with stride 2 in the last dimension."""
    wide = torch.zeros(*t.shape[:-1], 2 * t.shape[-1], dtype=t.dtype)
    view = wide[..., ::2]
    view.copy_(t)
    return view


def _set(name: str, make: Callable[[Any], Any]) -> Callable[[dict[str, Any]], None]:
    def mutate(args: dict[str, Any]) -> None:
        args[name] = make(args[name])

    return mutate


def _set_many(**makes: Callable[[Any], Any]) -> Callable[[dict[str, Any]], None]:
    def mutate(args: dict[str, Any]) -> None:
        for name, make in makes.items():
            args[name] = make(args[name])

    return mutate


def _all_to_meta(args: dict[str, Any]) -> None:
    for name, value in args.items():
        if isinstance(value, torch.Tensor):
            args[name] = value.to("meta")


def _generic_cases(op: Op) -> list[Case]:
    """The per-argument cases every tensor argument of ``op`` gets."""
    base = dict(zip(op.params, op.args(), strict=True))
    tensors = [name for name, value in base.items() if isinstance(value, torch.Tensor)]
    cases: list[Case] = []
    for name in tensors:
        value = base[name]
        wrong = torch.float32 if not value.dtype.is_floating_point else torch.int32
        cases.append(
            Case(op.name, f"{name}-dtype", _set(name, lambda t, d=wrong: t.to(d)),
                 rf"argument '{name}' must have dtype in \(.*\), found {str(wrong).removeprefix('torch.')}")
        )
        if value.dtype.is_floating_point:
            cases.append(
                Case(op.name, f"{name}-float64", _set(name, lambda t: t.double()),
                     rf"argument '{name}' must have dtype in \(.*\), found float64")
            )
        cases.append(
            Case(op.name, f"{name}-rank-up", _set(name, lambda t: t.unsqueeze(0)),
                 rf"argument '{name}' must have {value.dim()} dimensions, found {value.dim() + 1}")
        )
        cases.append(
            Case(op.name, f"{name}-rank-down", _set(name, lambda t: t.reshape(-1) if t.dim() > 1 else t[0]),
                 rf"argument '{name}' must have {value.dim()} dimensions, found {value.dim() - 1}")
        )
        cases.append(
            Case(op.name, f"{name}-not-a-tensor", _set(name, lambda t: None),
                 rf"argument '{name}' must be a torch.Tensor, found NoneType")
        )
        if len(tensors) > 1:
            cases.append(
                Case(op.name, f"{name}-on-meta", _set(name, lambda t: t.to("meta")),
                     rf"arguments must be on one device, found .*\b{name} on meta")
            )
        else:
            cases.append(Case(op.name, f"{name}-on-meta", _set(name, lambda t: t.to("meta")),
                              rf"argument '{name}' {GPU_OR_INTERPRETER}"))
        if value.dim() == 2:
            cases.append(
                Case(op.name, f"{name}-last-stride-2", _set(name, _strided_last),
                     rf"argument '{name}' must have stride 1 in its last dimension, found strides \(\d+, 2\)")
            )
            cases.append(
                Case(op.name, f"{name}-transposed", _set(name, lambda t: t.t().contiguous().t()),
                     rf"argument '{name}' must have stride 1 in its last dimension, found strides \(1, \d+\)")
            )
        if name in op.mutated:
            cases.append(
                Case(op.name, f"{name}-expanded-rows", _set(name, lambda t: t[:1].expand(t.shape)),
                     rf"argument '{name}' is written in place, so its rows must not overlap: .*found strides \(0, 1\)")
            )
    cases.append(Case(op.name, "all-on-meta", _all_to_meta, rf"argument '{tensors[0]}' {GPU_OR_INTERPRETER}"))
    return cases


def _norm_cases(op: str) -> list[Case]:
    return [
        Case(op, "weight-size", _set("weight", lambda w: w[:-8]),
             r"argument 'weight' must have size 64 in dimension 0 \(the hidden size of x\), found 56"),
        Case(op, "eps-str", _set("eps", lambda e: "1e-6"), r"argument 'eps' must be a float, found str"),
        Case(op, "eps-none", _set("eps", lambda e: None), r"argument 'eps' must be a float, found NoneType"),
        Case(op, "eps-negative", _set("eps", lambda e: -1.0), r"argument 'eps' must be at least 0.0, found -1.0"),
    ]


def _silu_cases(op: str) -> list[Case]:
    return [
        Case(op, "odd-width", _set("x", lambda x: x[:, :-1]),
             r"argument 'x' must have a size divisible by 2 in dimension -1, found 63"),
    ]


SPECIFIC_CASES = {
    "rms_norm": _norm_cases("rms_norm"),
    "fused_add_rms_norm": _norm_cases("fused_add_rms_norm") + [
        Case("fused_add_rms_norm", "residual-dtype-differs", _set("residual", lambda r: r.half()),
             r"argument 'residual' must have dtype in \(float32\), found float16"),
        Case("fused_add_rms_norm", "residual-tokens", _set("residual", lambda r: r[:-1]),
             r"argument 'residual' must have size 4 in dimension 0 \(the number of tokens of x\), found 3"),
        Case("fused_add_rms_norm", "residual-hidden", _set("residual", lambda r: r[:, :-8]),
             r"argument 'residual' must have size 64 in dimension 1 \(the hidden size of x\), found 56"),
    ],
    "silu_and_mul": _silu_cases("silu_and_mul"),
    "silu_and_mul_fp8_quant": _silu_cases("silu_and_mul_fp8_quant"),
    "per_token_group_fp8_quant": [
        Case("per_token_group_fp8_quant", "hidden-not-divisible", _set("group_size", lambda g: 48),
             r"argument 'x' must have a size divisible by 48 in dimension 1, found 64"),
        Case("per_token_group_fp8_quant", "group-larger-than-hidden", _set("group_size", lambda g: 128),
             r"argument 'x' must have a size divisible by 128 in dimension 1, found 64"),
        Case("per_token_group_fp8_quant", "group-zero", _set("group_size", lambda g: 0),
             r"argument 'group_size' must be a positive number of columns, found 0"),
        Case("per_token_group_fp8_quant", "group-negative", _set("group_size", lambda g: -64),
             r"argument 'group_size' must be a positive number of columns, found -64"),
        Case("per_token_group_fp8_quant", "group-float", _set("group_size", lambda g: 32.0),
             r"argument 'group_size' must be an int, found float 32.0"),
        Case("per_token_group_fp8_quant", "group-str", _set("group_size", lambda g: "32"),
             r"argument 'group_size' must be an int, found str '32'"),
        Case("per_token_group_fp8_quant", "group-bool", _set("group_size", lambda g: True),
             r"argument 'group_size' must be an int, found bool True"),
    ],
    "rotary_embedding": [
        Case("rotary_embedding", "positions-count", _set("positions", lambda p: p[:-1]),
             r"argument 'positions' must have size 4 in dimension 0 \(one position per token of query\), found 3"),
        Case("rotary_embedding", "key-tokens", _set("key", lambda k: k[:-1]),
             r"argument 'key' must have size 4 in dimension 0 \(as many tokens as query\), found 3"),
        Case("rotary_embedding", "query-not-whole-heads", _set("query", lambda q: q[:, :-64]),
             r"argument 'query' must have a size divisible by 128 in dimension 1, found 192"),
        Case("rotary_embedding", "key-not-whole-heads", _set("key", lambda k: k[:, :-64]),
             r"argument 'key' must have a size divisible by 128 in dimension 1, found 64"),
        Case("rotary_embedding", "cache-width", _set("cos_sin_cache", lambda c: c[:, :64]),
             r"argument 'cos_sin_cache' must have size 128 in dimension 1 \(cos then sin, head_size // 2 each\), found 64"),
        Case("rotary_embedding", "cache-no-rows", _set("cos_sin_cache", lambda c: c[:0]),
             r"argument 'cos_sin_cache' must have a row for every position, found 0 rows for 4 tokens"),
        Case("rotary_embedding", "key-dtype-differs", _set("key", lambda k: k.half()),
             r"argument 'key' must have dtype in \(float32\), found float16"),
        Case("rotary_embedding", "cache-half-for-float-query", _set("cos_sin_cache", lambda c: c.half()),
             r"argument 'cos_sin_cache' must have dtype in \(float32\), found float16"),
        Case("rotary_embedding", "head-size-odd", _set("head_size", lambda h: 127),
             r"argument 'head_size' must be a positive even number .*found 127"),
        Case("rotary_embedding", "head-size-zero", _set("head_size", lambda h: 0),
             r"argument 'head_size' must be a positive even number .*found 0"),
        Case("rotary_embedding", "head-size-str", _set("head_size", lambda h: "128"),
             r"argument 'head_size' must be an int, found str '128'"),
        Case("rotary_embedding", "head-size-not-dividing", _set("head_size", lambda h: 96),
             r"argument 'query' must have a size divisible by 96 in dimension 1, found 256"),
        # Zero tokens with a bad argument: refused, not answered with empty outputs.
        Case("rotary_embedding", "zero-tokens-bad-cache",
             _set_many(positions=lambda p: p[:0], query=lambda q: q[:0], key=lambda k: k[:0],
                       cos_sin_cache=lambda c: c[:, :64]),
             r"argument 'cos_sin_cache' must have size 128 in dimension 1"),
    ],
}
for _name in ("rms_norm", "silu_and_mul", "per_token_group_fp8_quant"):
    SPECIFIC_CASES[_name].append(
        Case(_name, "zero-tokens-int-x", _set("x", lambda x: x[:0].int()), r"argument 'x' must have dtype in .*found int32")
    )

CASES = [case for op in OPS.values() for case in _generic_cases(op) + SPECIFIC_CASES[op.name]]


def _bad_args(case: Case) -> list[Any]:
    op = OPS[case.op]
    args = dict(zip(op.params, op.args(), strict=True))
    case.mutate(args)
    return list(args.values())


def _expected(case: Case) -> str:
    return rf"^op '{case.op}': " + case.match


def test_every_op_has_cases_for_every_kind():
    # The table really covers the list for every op.
    kinds = ("dtype", "on-meta", "rank-up", "rank-down", "last-stride-2", "all-on-meta")
    for op in OPS:
        ids = [c.id for c in CASES if c.op == op]
        assert all(any(kind in i for i in ids) for kind in kinds), (op, ids)
    assert len({c.param_id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.param_id)
def test_eager_bad_input_raises_before_launch(case: Case, monkeypatch: pytest.MonkeyPatch):
    """Eager path: the wrapper's validate hook refuses the input; the kernel never runs."""
    op = OPS[case.op]
    launched: list[object] = []
    # Whichever kernel the call's entry names (an op's variants included).
    monkeypatch.setattr(op.wrapper.configured, "kernel_for", lambda entry: lambda *a: launched.append(a))
    with pytest.raises(InputValidationError, match=_expected(case)):
        op.wrapper(*_bad_args(case))
    assert launched == []


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.param_id)
def test_trace_time_bad_input_raises(case: Case):
    """torch.compile(fullgraph=True, backend="aot_eager"): the bridge validates the
    FakeTensors while tracing and raises the op's own error class."""
    torch._dynamo.reset()
    op = OPS[case.op]
    compiled = torch.compile(lambda *args: op.wrapper(*args), backend="aot_eager", fullgraph=True)
    with pytest.raises(InputValidationError, match=_expected(case)):
        compiled(*_bad_args(case))


# ---------------------------------------------------------------- zero tokens


def _empty_like_results(op: Op) -> list[tuple[tuple[int, ...], torch.dtype]]:
    """(shape, dtype) of a one-token call's results with the token dimension set to 0."""
    produced = results(op, op.wrapper, op.args(tokens=1))
    return [((0, *r.shape[1:]), r.dtype) for r in produced]


@pytest.mark.parametrize("path", ["eager", "aot_eager"])
@pytest.mark.parametrize("op_name", list(OPS))
def test_zero_tokens_return_empty_outputs(op_name: str, path: str):
    """0 tokens: empty outputs with the shapes and dtypes of a real call, no crash
    (eager wrapper, and the compiled graph on the default path)."""
    torch._dynamo.reset()
    op = OPS[op_name]
    expected = _empty_like_results(op)
    call = op.wrapper if path == "eager" else torch.compile(lambda *a: op.wrapper(*a), backend="aot_eager", fullgraph=True)
    produced = results(op, call, op.args(tokens=0))
    assert [(tuple(r.shape), r.dtype) for r in produced] == expected


@pytest.mark.parametrize("op_name", list(OPS))
def test_zero_tokens_on_the_hop_path(op_name: str):
    """HOP path forced on CPU (Helion's HOP under aot_eager): empty outputs too."""
    torch._dynamo.reset()
    op = OPS[op_name]
    if hop_refuses(op):
        pytest.skip(f"{op_name}: the bridge refuses Helion's HOP here (hardening_ops.hop_refuses)")
    expected = _empty_like_results(op)
    dynamo_bridge.set_mode("hop")
    try:
        compiled = torch.compile(lambda *a: op.wrapper(*a), backend="aot_eager", fullgraph=True)
        produced = results(op, compiled, op.args(tokens=0))
    finally:
        dynamo_bridge.set_mode(None)
        torch._dynamo.reset()
    assert [(tuple(r.shape), r.dtype) for r in produced] == expected


# ---------------------------------------------------------------- accepted layouts


def _row_strided(t: torch.Tensor) -> torch.Tensor:
    """The same values as a view whose rows are 16 elements further apart than their width."""
    wide = torch.zeros(t.shape[0], t.shape[1] + 16, dtype=t.dtype)
    view = wide[:, : t.shape[1]]
    view.copy_(t)
    return view


@pytest.mark.parametrize("op_name", list(OPS))
def test_row_strided_views_are_accepted_and_correct(op_name: str):
    """Eager: validation must not refuse what the kernels handle: 2-D arguments whose
    rows are padded (a slice of a wider buffer, as vLLM's qkv split gives), and
    positions with stride 2. Results equal the reference on contiguous copies."""
    op = OPS[op_name]
    args = op.args()
    strided = []
    for name, a in zip(op.params, args, strict=True):
        if isinstance(a, torch.Tensor) and a.dim() == 2 and name != "cos_sin_cache":
            a = _row_strided(a)
        elif isinstance(a, torch.Tensor) and name == "positions":
            a = torch.stack([a, a], dim=1)[:, 0]
        strided.append(a)
    assert any(isinstance(a, torch.Tensor) and not a.is_contiguous() for a in strided)
    got = results(op, op.wrapper, strided)
    want = results(op, op.reference, clone_args(args))
    for g, w in zip(got, want, strict=True):
        assert (g.shape, g.dtype) == (w.shape, w.dtype)
        if g.dtype != torch.float8_e4m3fn:  # see hardening_ops.assert_matches_reference
            torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- cost in the compiled graph


@pytest.mark.parametrize("mode", ["hop", "custom_op"])
@pytest.mark.parametrize("op_name", list(OPS))
def test_compiled_graph_validates_once_at_trace_time(op_name: str, mode: str, monkeypatch: pytest.MonkeyPatch):
    """aot_eager with the given path: validate runs while tracing and never again
    on later calls of the compiled function. (On the custom-op path the op's
    implementation is the eager call, whose first call of a signature takes the
    full path, checks included, and leaves a plan that later calls run.)"""
    torch._dynamo.reset()
    op = OPS[op_name]
    if mode == "hop" and hop_refuses(op):
        pytest.skip(f"{op_name}: the bridge refuses Helion's HOP here (hardening_ops.hop_refuses)")
    calls: list[int] = []
    original = op.wrapper.validate

    def counting_validate(*args: Any, **kwargs: Any) -> None:
        calls.append(1)
        original(*args, **kwargs)

    prepared = _prepare.prepared_for(op.wrapper.kernel)
    monkeypatch.setitem(_prepare._by_kernel, op.wrapper.kernel, dataclasses.replace(prepared, validate=counting_validate))
    monkeypatch.setattr(op.wrapper, "validate", counting_validate)
    dynamo_bridge.set_mode(mode)
    try:
        compiled = torch.compile(lambda *a: op.wrapper(*a), backend="aot_eager", fullgraph=True)
        compiled(*op.args())
        assert len(calls) >= 1  # the trace validated (the custom op's first run too)
        traced = len(calls)
        for _ in range(3):
            compiled(*op.args())
    finally:
        dynamo_bridge.set_mode(None)
        torch._dynamo.reset()
    assert len(calls) == traced, f"validate ran {len(calls) - traced} more times after the trace"
