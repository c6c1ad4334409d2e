"""How ``helion-ops bench`` and autotuning time a call, on the GPU.

Timing: for large shapes the median of calls each timed alone after a pass
that reads a 256 MB buffer (``_flushed_ms``: the L2 holds none of the call's
data, and only clean lines); for decode shapes (<= 256 tokens), whose kernels
run for a few microseconds, the median of CUDA-graph replays
(``_cuda_graph_ms``, so host launch overhead is not measured). Every
contender of a shape, and the copy ceiling, is timed the same way.

Why not ``triton.testing.do_bench``: its flush zeroes a 256 MB buffer, which
leaves the L2 full of dirty lines that the timed call then writes back to
memory on top of its own traffic. On an H200 that cost every timed call about
2-5 us (a 128 MB copy: 37.2 us after the zeroing flush, 35.1 after a read-only
one; 1 GiB: 257.3 / 253.3 us), traffic of the harness, not of the op, and the
smaller the shape the larger its share (tools/gpu_variants.py --only flush).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from typing import Any

import torch

from ._shapes import parse_fields

DECODE_MAX_TOKENS = 256
CUDAGRAPH = "cudagraph"
FLUSHED = "flushed"  # records before it said "do_bench": triton's do_bench, zeroing flush
L2_FLUSH_BYTES = 256 << 20  # several times the L2 of the GPUs this targets (H100/H200: 50 MB)
COPY_CEILING_BYTES = 1 << 30
TOKEN_FIELDS = ("numtokens", "num_tokens", "tokens")


def token_count(shape: str, args: Sequence[Any]) -> int | None:
    """Tokens of a shape: its name's numtokens field, else the first tensor argument's leading size."""
    fields = parse_fields(shape)
    for field in TOKEN_FIELDS:
        value = fields.get(field, "")
        if value.isdigit():
            return int(value)
    for a in args:
        if isinstance(a, torch.Tensor) and a.dim() >= 1:
            return int(a.shape[0])
    return None


def timing_method(shape: str, args: Sequence[Any]) -> str:
    tokens = token_count(shape, args)
    return CUDAGRAPH if tokens is not None and tokens <= DECODE_MAX_TOKENS else FLUSHED


def time_ms(fn: Callable[[], Any], method: str) -> float:
    """Median milliseconds of ``fn`` by ``method``; the first call (compilation) is not timed."""
    fn()
    torch.cuda.synchronize()
    if method == CUDAGRAPH:
        try:
            return _cuda_graph_ms(fn)
        except RuntimeError as exc:  # torch.AcceleratorError is one
            if "capture" not in str(exc):
                raise
            return _cuda_graph_ms(fn)  # once more: see _cuda_graph_ms
    return _flushed_ms(fn)


def _flushed_ms(fn: Callable[[], Any], warmup_ms: float = 25.0, rep_ms: float = 100.0) -> float:
    """Median milliseconds of ``fn``, each call timed alone after a read of an
    ``L2_FLUSH_BYTES`` buffer (see the module's docstring for why a read).

    The loop is do_bench's: the number of warm-up and timed calls comes from
    the time of 5 flushed calls, to fill about ``warmup_ms`` and ``rep_ms``.
    """
    flush_buffer = torch.empty(L2_FLUSH_BYTES // 4, dtype=torch.int32, device="cuda")

    def flush() -> None:
        flush_buffer.sum()  # reads every byte, writes 8: the L2 is left clean

    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(5):
        flush()
        fn()
    end.record()
    torch.cuda.synchronize()
    estimate = max(start.elapsed_time(end) / 5, 1e-3)
    for _ in range(max(1, int(warmup_ms / estimate))):
        flush()
        fn()
    return median_ms_after(flush, fn, max(1, int(rep_ms / estimate)))


def median_ms_after(flush: Callable[[], object], fn: Callable[[], object], repeats: int) -> float:
    """Median milliseconds of ``repeats`` calls of ``fn``, each timed alone
    (CUDA events around it) after a call of ``flush``."""
    starts = [torch.cuda.Event(enable_timing=True) for _ in range(repeats)]
    ends = [torch.cuda.Event(enable_timing=True) for _ in range(repeats)]
    for call_start, call_end in zip(starts, ends, strict=True):
        flush()
        call_start.record()
        fn()
        call_end.record()
    torch.cuda.synchronize()
    return float(statistics.median(s.elapsed_time(e) for s, e in zip(starts, ends, strict=True)))


def _cuda_graph_ms(fn: Callable[[], Any], rep_ms: float = 50.0, replays: int = 10) -> float:
    """Median milliseconds per call of ``fn`` replayed in a CUDA graph.

    The graph holds as many calls as take about ``rep_ms`` (estimated from 5
    calls), so launch overhead is left out and short decode kernels are timed
    as an engine's CUDA graph runs them. Written for this project instead of
    triton.testing.do_bench_cudagraph because that one captures in "global"
    error mode, in which any thread's unsafe CUDA call ends the capture: on an
    H100, 1 of 288 bench captures and 1 of 2 tuning jobs failed so ("operation
    failed due to a previous error during capture"), and the same work passed
    when run again. Here only this thread's calls count ("thread_local"), and
    ``time_ms`` tries a failed capture once more.
    """
    stream = torch.cuda.Stream()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    with torch.cuda.stream(stream):
        fn()
        start.record()
        for _ in range(5):
            fn()
        end.record()
        torch.cuda.synchronize()
        estimate = start.elapsed_time(end) / 5
        calls = max(1, int(rep_ms / estimate)) if estimate > 0 else 1000
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, stream=stream, capture_error_mode="thread_local"):
            for _ in range(calls):
                fn()
        torch.cuda.synchronize()
        times = []
        for _ in range(replays):
            start.record()
            graph.replay()
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end) / calls)
    return float(statistics.median(times))


def copy_times(nbytes: int, repeats: int, method: str, device: torch.device | str = "cuda") -> list[float]:
    """``repeats`` timings (ms, by ``method``) of a device-to-device copy of an ``nbytes`` buffer."""
    src = torch.ones(nbytes, dtype=torch.uint8, device=device)
    dst = torch.empty_like(src)
    return [time_ms(lambda: dst.copy_(src), method) for _ in range(repeats)]


def copy_ceiling_tbps(nbytes: int = COPY_CEILING_BYTES, repeats: int = 3) -> float:
    """Device-to-device copy bandwidth (read + write) of an ``nbytes`` buffer, TB/s (median of repeats)."""
    ms = statistics.median(copy_times(nbytes, repeats, FLUSHED))
    torch.cuda.empty_cache()  # the two buffers are gone: give their memory back before the ops run
    return 2 * nbytes / (ms * 1e-3) / 1e12
