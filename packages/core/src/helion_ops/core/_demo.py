"""``helion-ops demo``: every op (or those named) run eagerly and under
``torch.compile(fullgraph=True)`` on a small shape, checked against its
reference (outputs and in-place-written arguments), with the dispatch path,
graph breaks, errors and times in a table, then one op's captured FX graph.

On CPU the kernels run in Triton's interpreter (TRITON_INTERPRET=1): the
inputs are the smallest shape of each op's generator, in float32. Where the
interpreter's float32 -> float8e4nv conversion is probed wrong (Triton 3.9
rounds 124.3 to 64: a mantissa carry is lost), the demo converts with
PyTorch's cast instead (round to nearest even, saturating like the GPU's
``cvt.rn.satfinite``) and says so: the fp8 ops are then checked on their own
logic, not on that interpreter bug.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import torch

from ._compare import Comparison, clone_args, compare_to_expected, expected_results
from ._shapes import accepts_argument

if TYPE_CHECKING:
    from ._wrapper import HelionKernelWrapper

COLUMNS = [
    "op",
    "dispatch",
    "graph breaks",
    "eager max err",
    "compiled max err",
    "eager ms",
    "compile s",
    "shape",
    "status",
]


def narrowed_generator_kwargs(wrapper: HelionKernelWrapper) -> dict[str, Any]:
    """Each generator parameter whose default is a tuple of sizes, narrowed to its smallest size."""
    assert wrapper.input_generator is not None
    kwargs: dict[str, Any] = {}
    for name, param in inspect.signature(wrapper.input_generator).parameters.items():
        default = param.default
        if (
            isinstance(default, tuple)
            and default
            and all(isinstance(v, int) and not isinstance(v, bool) for v in default)
        ):
            kwargs[name] = (min(default),)
    return kwargs


def demo_inputs(wrapper: HelionKernelWrapper, device: str) -> tuple[str, tuple[Any, ...]]:
    """The smallest shape the op's generator makes (size tuples narrowed first, so little is allocated)."""
    assert wrapper.input_generator is not None
    kwargs = narrowed_generator_kwargs(wrapper)
    if accepts_argument(wrapper, "device"):
        kwargs["device"] = device
    if device == "cpu" and accepts_argument(wrapper, "dtype"):
        kwargs["dtype"] = torch.float32  # the interpreter computes in numpy: no bfloat16 there
    inputs = wrapper.input_generator(**kwargs)

    def size(item: tuple[str, tuple[Any, ...]]) -> int:
        return sum(a.numel() for a in item[1] if isinstance(a, torch.Tensor))

    return min(inputs.items(), key=size)


@dataclasses.dataclass
class DemoRow:
    op: str
    mode: str = "-"
    graph_breaks: int | None = None
    eager: Comparison | None = None
    compiled: Comparison | None = None
    eager_ms: float | None = None
    compile_s: float | None = None
    shape: str = ""
    status: str = "ok"
    graph: Any = None

    @property
    def ok(self) -> bool:
        return self.status in ("ok", "skipped")

    def cells(self) -> list[str]:
        def num(v: float | None, fmt: str) -> str:
            return "-" if v is None else format(v, fmt)

        return [
            self.op,
            self.mode,
            "-" if self.graph_breaks is None else str(self.graph_breaks),
            num(self.eager.max_abs if self.eager else None, ".2e"),
            num(self.compiled.max_abs if self.compiled else None, ".2e"),
            num(self.eager_ms, ".2f"),
            num(self.compile_s, ".1f"),
            self.shape,
            self.status,
        ]


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _time_eager_ms(fn: Callable[[], Any], device: str) -> float:
    repeats = 20 if device == "cuda" else 1  # one call is slow enough in the interpreter
    _sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    _sync(device)
    return (time.perf_counter() - start) * 1e3 / repeats


def demo_op(wrapper: HelionKernelWrapper, device: str, atol: float, rtol: float) -> DemoRow:
    from helion_ops import dynamo_bridge

    row = DemoRow(wrapper.op_name)
    reference = wrapper.reference
    if reference is None or wrapper.input_generator is None:
        row.status = "skipped"
        row.shape = "no reference" if reference is None else "no input generator"
        return row
    row.shape, args = demo_inputs(wrapper, device)
    row.mode = dynamo_bridge.resolve_mode(device, wrapper.op_name).value
    what = f"op {wrapper.op_name!r}"
    expected = expected_results(reference, args)  # once, for the eager and the compiled check
    row.eager = compare_to_expected(wrapper, args, expected, f"{what} (eager)", atol=atol, rtol=rtol)
    warm = clone_args(args)
    row.eager_ms = _time_eager_ms(lambda: wrapper(*warm), device)

    def call(*a: Any) -> Any:
        return wrapper(*a)

    torch._dynamo.reset()
    explanation = torch._dynamo.explain(call)(*clone_args(args))
    row.graph_breaks = explanation.graph_break_count
    row.graph = explanation.graphs[0] if explanation.graphs else None
    torch._dynamo.reset()
    compiled = torch.compile(call, fullgraph=True)
    start = time.perf_counter()
    row.compiled = compare_to_expected(compiled, args, expected, f"{what} (compiled)", atol=atol, rtol=rtol)
    row.compile_s = time.perf_counter() - start
    failures = []
    if not row.eager.close:
        failures.append("eager differs")
    if not row.compiled.close:
        failures.append("compiled differs")
    if row.graph_breaks:
        failures.append("graph break")
    row.status = "FAIL: " + ", ".join(failures) if failures else "ok"
    return row


def hop_graph(wrapper: HelionKernelWrapper, device: str) -> Any:
    """The FX graph Dynamo captures for the op with the HOP path forced (mode 'hop')."""
    from helion_ops import dynamo_bridge

    graphs: list[Any] = []

    def capture(gm: Any, example_inputs: Any) -> Any:
        graphs.append(gm)
        return gm.forward

    _, args = demo_inputs(wrapper, device)
    dynamo_bridge.set_mode("hop")
    try:
        torch._dynamo.reset()
        torch.compile(lambda *a: wrapper(*a), backend=capture, fullgraph=True)(*args)
    finally:
        dynamo_bridge.set_mode(None)
        torch._dynamo.reset()
    return graphs[0] if graphs else None


FP8_PROBE = 124.3  # rounds up across a binade: 128 in e4m3, 64 with the lost carry
FP8_MAX = 448.0


def _interpreter_fp8(value: float) -> float | None:
    """``value`` converted to float8e4nv by Triton's interpreter (None if that cannot be probed)."""
    try:
        import numpy as np
        import triton.language as tl
        import triton.runtime.interpreter as interpreter
        from triton._C.libtriton import ir

        bits = interpreter._convert_float(
            np.array([value], dtype=np.float32), tl.float32, tl.float8e4nv, ir.ROUNDING_MODE.RTNE
        )
        code = torch.from_numpy(np.asarray(bits).astype(np.uint8).reshape(1).copy())
        return float(code.view(torch.float8_e4m3fn).float().item())
    except Exception:  # another Triton: no such internals, nothing to correct
        return None


def _torch_fp8_conversion(original: Callable[..., Any]) -> Callable[..., Any]:
    """The interpreter's ``_convert_float`` with float{32,16}/bfloat16 -> float8e4nv (RTNE) done by PyTorch."""
    import numpy as np
    import triton.language as tl
    from triton._C.libtriton import ir

    widths = {tl.float32: (np.int32, torch.float32), tl.float16: (np.int16, torch.float16)}
    widths[tl.bfloat16] = (np.int16, torch.bfloat16)

    def convert(data: Any, src: Any, dst: Any, rounding_mode: Any) -> Any:
        if dst != tl.float8e4nv or src not in widths or rounding_mode != ir.ROUNDING_MODE.RTNE:
            return original(data, src, dst, rounding_mode)
        int_dtype, float_dtype = widths[src]
        raw = np.frombuffer(data.tobytes(), dtype=int_dtype).reshape(data.shape).copy()
        values = torch.from_numpy(raw).view(float_dtype).float().clamp(-FP8_MAX, FP8_MAX)
        return values.to(torch.float8_e4m3fn).view(torch.uint8).numpy()

    return convert


@contextlib.contextmanager
def correct_interpreter_fp8_rounding() -> Iterator[str | None]:
    """While inside, the interpreter's fp8 cast is PyTorch's if the probe finds it wrong; yields a note then."""
    from ._interpreter import interpreter_active

    expected = float(torch.tensor(FP8_PROBE).to(torch.float8_e4m3fn).float())
    found = _interpreter_fp8(FP8_PROBE) if interpreter_active() else None
    if found is None or found == expected:
        yield None
        return
    import triton.runtime.interpreter as interpreter

    original = interpreter._convert_float
    interpreter._convert_float = _torch_fp8_conversion(original)
    try:
        yield (
            f"this Triton's interpreter converts float32 {FP8_PROBE} to float8e4nv {found:g} (expected "
            f"{expected:g}); the demo casts to fp8 with PyTorch instead (round to nearest even, saturating)"
        )
    finally:
        interpreter._convert_float = original


def run_demo(wrappers: Sequence[HelionKernelWrapper], atol: float, rtol: float) -> int:
    from helion_ops import dynamo_bridge

    from ._table import print_table

    device = "cuda" if torch.cuda.is_available() else "cpu"
    where = torch.cuda.get_device_name() if device == "cuda" else "cpu (Triton interpreter)"
    print(f"torch {torch.__version__}, device {where}; tolerance atol={atol:g} rtol={rtol:g}")
    rows: list[DemoRow] = []
    with correct_interpreter_fp8_rounding() as note:
        if note:
            print(f"note: {note}")
        for wrapper in wrappers:
            try:
                rows.append(demo_op(wrapper, device, atol, rtol))
            except Exception as exc:  # one broken op is reported in its row; the others still run
                lines = str(exc).strip().splitlines()
                rows.append(DemoRow(wrapper.op_name, status=f"FAIL: {type(exc).__name__}: {lines[0] if lines else ''}"))
    print_table("helion-ops demo", COLUMNS, [r.cells() for r in rows])
    by_name = {w.op_name: w for w in wrappers}
    # Preferably an op with one kernel here: one running variants never takes the HOP.
    captured = [r for r in rows if r.graph is not None]
    shown = next((r for r in captured if not by_name[r.op].configured.runs_variants), captured[0] if captured else None)
    if shown is not None:
        print(f"\ncaptured FX graph of {shown.op} (mode {dynamo_bridge.get_mode().value}, path {shown.mode}):")
        print(shown.graph.graph)
        wrapper = by_name[shown.op]
        if dynamo_bridge.capabilities().hop_tracing and shown.mode != "hop" and not wrapper.configured.runs_variants:
            graph = hop_graph(wrapper, device)
            if graph is not None:
                print(f"\ncaptured FX graph of {shown.op} with the HOP (mode 'hop'):")
                print(graph.graph)
    failed = [r.op for r in rows if not r.ok]
    if failed:
        print(f"\nFAILED: {', '.join(failed)}")
    return 1 if failed else 0
