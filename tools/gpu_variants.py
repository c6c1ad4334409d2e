"""Diagnosis on a GPU (or small shapes in Triton's interpreter): the shipped
rotary_embedding kernel against a per-token formulation and the shipped
per_token_group_fp8_quant and silu_and_mul_fp8_quant kernels against earlier
formulations, each with a few explicit configs, checked against the op's
reference and timed with ``triton.testing.do_bench`` beside Inductor's
compile of the reference; copies of the bench's sizes beside the 1 GiB copy
ceiling; each op's stored config with other load and store options; how the
L2 flush between timed calls shapes the smaller large shapes (``--only
flush``); plus where an eager call's host time goes.

    python tools/gpu_variants.py            # GPU: real shapes
    python tools/gpu_variants.py --only quant silu_quant
    TRITON_INTERPRET=1 python tools/gpu_variants.py --small   # CPU check of the variants

Not part of the package: it decides which formulation the op modules ship.
"""

from __future__ import annotations

import argparse
import time
import traceback
from collections.abc import Callable
from typing import Any

import helion
import helion.language as hl
import torch

from helion_ops.kernels import _per_token_group_fp8_quant as ptg
from helion_ops.kernels import _rotary_embedding as rope
from helion_ops.kernels import _silu_and_mul_fp8_quant as silu_quant
from helion_ops.kernels._fused_add_rms_norm import fused_add_rms_norm_stored_sum
from helion_ops.kernels._tuning import next_power_of_2


def rope_per_token(
    positions: torch.Tensor, query: torch.Tensor, key: torch.Tensor, cos_sin_cache: torch.Tensor, head_size: int
) -> None:
    num_tokens = query.size(0)
    half = head_size // 2
    qh = query.view(num_tokens, query.size(1) // head_size, 2, half)
    kh = key.view(num_tokens, key.size(1) // head_size, 2, half)
    ch = cos_sin_cache.view(cos_sin_cache.size(0), 2, half)
    for t in hl.tile(num_tokens):
        pos = positions[t]
        cos = ch[pos, 0, :].to(torch.float32)[:, None, :]
        sin = ch[pos, 1, :].to(torch.float32)[:, None, :]
        q1 = qh[t, :, 0, :].to(torch.float32)
        q2 = qh[t, :, 1, :].to(torch.float32)
        qh[t, :, 0, :] = (q1 * cos - q2 * sin).to(query.dtype)
        qh[t, :, 1, :] = (q2 * cos + q1 * sin).to(query.dtype)
        k1 = kh[t, :, 0, :].to(torch.float32)
        k2 = kh[t, :, 1, :].to(torch.float32)
        kh[t, :, 0, :] = (k1 * cos - k2 * sin).to(key.dtype)
        kh[t, :, 1, :] = (k2 * cos + k1 * sin).to(key.dtype)


def silu_quant_rcp(x: torch.Tensor, asm: hl.constexpr) -> tuple[torch.Tensor, torch.Tensor]:
    """The shipped kernel with the quantisation's division by the row scale
    as a multiply by its reciprocal (one division per row): Triton's fp32
    division is ``div.full.f32``, which rescales a divisor outside
    [2**-126, 2**126] (per element: a predicated multiply by 0.25 and one by
    2**24 beside the hoisted reciprocal). With ``asm`` (GPU only, inline PTX)
    also silu's ``gate / (1 + exp2(-gate log2 e))`` as ``gate *
    rcp.approx.ftz(...)``: that division paid a compare and two predicated
    multiplies per element; the flush only touches gates below about -87,
    whose silu is below 1e-36 in magnitude and quantises to 0 either way."""
    m, two_n = x.size()
    n = two_n // 2
    halves = x.view(m, 2, n)
    q = torch.empty([m, n], dtype=silu_quant.FP8_DTYPE, device=x.device)
    scales = torch.empty([m, 1], dtype=torch.float32, device=x.device)
    for rows in hl.tile(m):
        gate = halves[rows, 0, :].to(torch.float32)
        up = halves[rows, 1, :].to(torch.float32)
        denominator = 1.0 + torch.exp2(gate * -silu_quant.LOG2E)
        if asm:
            inverse = hl.inline_asm_elementwise(
                "rcp.approx.ftz.f32 $0, $1;", "=r,r", [denominator], dtype=torch.float32, is_pure=True, pack=1
            )
            act = (gate * inverse * up).to(x.dtype).to(torch.float32)
        else:
            act = (gate / denominator * up).to(x.dtype).to(torch.float32)
        row_scale = torch.clamp(
            torch.amax(torch.abs(act), dim=-1, keepdim=True) / silu_quant.FP8_MAX, min=silu_quant.MIN_SCALE
        )
        q[rows, :] = (act * (1.0 / row_scale)).to(silu_quant.FP8_DTYPE)
        scales[rows, :] = row_scale
    return q, scales


def group_quant_clamped(x: torch.Tensor, group_size: int = 128) -> tuple[torch.Tensor, torch.Tensor]:
    """per_token_group_fp8_quant as shipped until 2026-11-28 (with the clamp)."""
    m, n = x.size()
    num_groups = n // group_size
    x_groups = x.reshape(m * num_groups, group_size)
    q = torch.empty([m, n], dtype=torch.float8_e4m3fn, device=x.device)
    q_groups = q.view(m * num_groups, group_size)
    scales = torch.empty([m, num_groups], dtype=torch.float32, device=x.device)
    flat_scales = scales.view(m * num_groups)
    for groups in hl.tile(m * num_groups):
        vals = x_groups[groups, :].to(torch.float32)
        group_scale = torch.clamp(torch.amax(torch.abs(vals), dim=-1) / ptg.FP8_MAX, min=ptg.MIN_SCALE)
        scaled = torch.clamp(vals / group_scale[:, None], -ptg.FP8_MAX, ptg.FP8_MAX)
        q_groups[groups, :] = scaled.to(torch.float8_e4m3fn)
        flat_scales[groups] = group_scale
    return q, scales


def fused_add_rms_norm_reread(
    x: torch.Tensor, residual: torch.Tensor, weight: torch.Tensor, eps: float = 1e-6
) -> torch.Tensor:
    """fused_add_rms_norm as Inductor's kernel has it: two explicit loops over
    a row's column blocks, the first adding, storing the sum into ``residual``
    and accumulating its squares element-wise (one cross-thread sum after the
    loop, as Helion's own row loop does), the second reading the stored sum
    back (one row read from L2) where the shipped kernel's row loop reloads
    ``x`` and ``residual`` (two). Its four loads, in order: x, residual
    (first loop), the stored sum, weight (second loop).

    Until 2026-12-07 this variant summed each block across threads inside
    the first loop (a block-wide reduction per iteration) and was 1-6% slower
    than the shipped kernel; that cost was the reduction's, not the re-read's."""
    m, n = x.size()
    out = torch.empty_like(x)
    block_n = hl.register_block_size(n)
    for rows in hl.tile(m):
        squares = hl.zeros([rows, block_n], dtype=torch.float32)
        for cols in hl.tile(n, block_size=block_n):
            summed = (x[rows, cols].to(torch.float32) + residual[rows, cols].to(torch.float32)).to(x.dtype)
            residual[rows, cols] = summed
            sf = summed.to(torch.float32)
            squares = squares + sf * sf
        inv_rms = torch.rsqrt(torch.sum(squares, dim=-1) / n + eps)
        for cols in hl.tile(n, block_size=block_n):
            sf = residual[rows, cols].to(torch.float32)
            out[rows, cols] = (sf * inv_rms[:, None] * weight[None, cols].to(torch.float32)).to(out.dtype)
    return out


def _bench(fn: Callable[[], object], small: bool) -> float:
    if small:
        t0 = time.perf_counter()
        fn()
        return (time.perf_counter() - t0) * 1e3
    from helion_ops.core._timing import FLUSHED, time_ms

    return time_ms(fn, FLUSHED)  # as helion-ops bench times large shapes (read-only L2 flush)


def _copy_by_size(device: str) -> None:
    """Copy TB/s at the bench's smaller sizes (bytes moved = read + written),
    beside the 1 GiB ceiling the percentages divide by: how much of a shape's
    shortfall a plain copy of its size shows too."""
    for moved_mb in (64, 128, 256, 512):
        src = torch.empty(moved_mb << 19, dtype=torch.uint8, device=device)
        dst = torch.empty_like(src)
        ms = _bench(lambda src=src, dst=dst: dst.copy_(src), False)
        print(f"  copy moving {moved_mb} MB: {2 * src.numel() / (ms * 1e-3) / 1e12:.2f} TB/s", flush=True)


def _clone(args: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(a.clone() if isinstance(a, torch.Tensor) else a for a in args)


def _bench_bytes(op: Any, args: tuple[Any, ...]) -> int:
    """Bytes one call of ``op`` moves, as ``helion-ops bench`` counts them
    (inputs read, outputs and in-place arguments written); runs ``op`` once on a copy."""
    from helion_ops.core._bench import bytes_moved, mutated_positions

    return bytes_moved(args, op(*_clone(args)), mutated_positions(op))


def _case(name: str, tokens: int, width: int, device: str) -> tuple[Any, tuple[Any, ...], Callable[..., None]]:
    """The registered op ``name``, its generator's arguments at that shape,
    and a check of a call on a copy of them against the reference's results."""
    from helion_ops.core import get_kernel

    op = get_kernel(name)
    (args,) = op.input_generator(tokens=(tokens,), hidden=(width,), device=device).values()
    expected = _clone(args)
    want = op.reference(*expected)
    return op, args, _matches(want, expected)


def _stored_config(op: Any, args: tuple[Any, ...]) -> tuple[str, dict[str, Any], Callable[..., Any]]:
    """The config key ``op`` selects for ``args`` on this machine's platform,
    that entry's config ({} where there is none) and the kernel function it
    is for (the op's own, or the variant the entry names)."""
    key = op.configured.selected_key(*args)
    entry = op.configured.entries.get(key)
    if entry is None:
        return key, {}, op.raw_kernel_func
    return key, dict(entry.config), op.function_of(entry.variant)


def _matches(want: Any, expected: tuple[Any, ...]) -> Callable[[tuple[Any, ...], Any], None]:
    """A check of one call against the reference's: its in-place results
    (``expected``, the reference's arguments after its call) and its output
    (``want``), within bf16-sized tolerances."""

    def check(work: tuple[Any, ...], out: Any) -> None:
        for got, ref in zip(work, expected, strict=True):
            if isinstance(ref, torch.Tensor) and ref.is_floating_point():
                torch.testing.assert_close(got, ref, atol=3e-2, rtol=3e-2)
        if isinstance(want, torch.Tensor):
            torch.testing.assert_close(out, want, atol=3e-2, rtol=3e-2)

    return check


def _try(
    label: str,
    run: Callable[[tuple[Any, ...]], object],
    args: tuple[Any, ...],
    check: Callable[..., None],
    nbytes: int,
    small: bool,
) -> None:
    try:
        work = _clone(args)
        out = run(work)
        check(work, out)
        ms = _bench(lambda: run(work), small)
        print(f"  {label:48s} {ms * 1e3:9.1f} us  {nbytes / (ms * 1e-3) / 1e12:6.2f} TB/s", flush=True)
    except Exception as exc:  # noqa: BLE001 - a diagnosis lists every failure and goes on
        print(f"  {label:48s} FAILED {type(exc).__name__}: {str(exc).splitlines()[0][:160]}", flush=True)
        if "--verbose" in __import__("sys").argv:
            traceback.print_exc()


def rotary(small: bool, device: str) -> None:
    shapes = [(64, 256)] if small else [(16384, 8192), (256, 4096), (1, 4096)]
    for tokens, hidden in shapes:
        (args,) = rope.rotary_embedding_inputs(tokens=(tokens,), hidden=(hidden,), device=device).values()
        expected = _clone(args)
        rope.rotary_embedding_reference(*expected)
        positions, query, key, cache, head_size = args
        nbytes = 2 * (query.numel() + key.numel()) * query.element_size() + positions.numel() * 8
        nbytes += tokens * head_size * cache.element_size()

        def check(work: tuple[Any, ...], _out: object, expected: tuple[Any, ...] = expected) -> None:
            torch.testing.assert_close(work[1], expected[1], atol=2e-2, rtol=2e-2)
            torch.testing.assert_close(work[2], expected[2], atol=2e-2, rtol=2e-2)

        print(f"rotary_embedding tokens={tokens} hidden={hidden} ({nbytes / 1e6:.1f} MB)", flush=True)
        compiled = torch.compile(rope.rotary_embedding_reference, dynamic=False)
        _try("inductor(reference)", lambda a, compiled=compiled: compiled(*a), args, lambda w, o: None, nbytes, small)
        for bs, warps in (([1, 1, 1, 1], 4), ([1, 16, 1, 16], 4), ([4, 8, 4, 8], 4), ([2, 16, 2, 16], 8)):
            k = helion.kernel(
                rope.rotary_embedding.raw_kernel_func,
                static_shapes=False,
                config=helion.Config(block_sizes=bs, num_warps=warps),
            )
            _try(f"shipped bs={bs} w={warps}", lambda a, k=k: k(*a), args, check, nbytes, small)
        for rows in (1, 2, 4):
            for warps in (4, 8):
                k = helion.kernel(
                    rope_per_token, static_shapes=False, config=helion.Config(block_sizes=[rows], num_warps=warps)
                )
                _try(f"per_token rows={rows} w={warps}", lambda a, k=k: k(*a), args, check, nbytes, small)


def group_quant(small: bool, device: str) -> None:
    shapes = [(64, 512)] if small else [(16384, 2048), (16384, 4096), (16384, 8192), (256, 4096)]
    for tokens, hidden in shapes:
        (args,) = ptg.per_token_group_fp8_quant_inputs(tokens=(tokens,), hidden=(hidden,), device=device).values()
        ref_q, ref_s = ptg.per_token_group_fp8_quant_reference(*args)
        if small:
            # Triton's interpreter rounds float32 -> e4m3 wrongly (the kernel
            # tests patch that): screen the variants against the shipped kernel.
            shipped = helion.kernel(
                ptg.per_token_group_fp8_quant.raw_kernel_func,
                static_shapes=False,
                config=helion.Config(block_sizes=[1], num_warps=4),
            )
            ref_q, ref_s = shipped(*args)
        x = args[0]
        nbytes = x.numel() * (x.element_size() + 1) + ref_s.numel() * 4

        def check(_work: tuple[Any, ...], out: Any, ref_q: torch.Tensor = ref_q, ref_s: torch.Tensor = ref_s) -> None:
            torch.testing.assert_close(out[1], ref_s, atol=1e-6, rtol=1e-4)
            # Dequantised values within one e4m3 step (2**-3 relative; the
            # interpreter's casts may round the other way): the kernel tests
            # hold the exact tolerance, this only screens variants.
            group = out[0].shape[-1] // ref_s.shape[-1]
            scale = ref_s.repeat_interleave(group, dim=-1)
            got, want = out[0].float() * scale, ref_q.float() * scale
            bound = 0.13 * torch.maximum(got.abs(), want.abs()) + scale * 2.0**-8
            assert bool(((got - want).abs() <= bound).all()), "fp8 values off by more than one e4m3 step"

        print(f"per_token_group_fp8_quant tokens={tokens} hidden={hidden} ({nbytes / 1e6:.1f} MB)", flush=True)
        compiled = torch.compile(ptg.per_token_group_fp8_quant_reference, dynamic=False)
        _try("inductor(reference)", lambda a, compiled=compiled: compiled(*a), args, check, nbytes, small)
        for groups, warps in ((8, 2), (8, 4), (16, 4), (32, 4), (16, 8)):
            config = helion.Config(block_sizes=[groups], num_warps=warps)
            for label, body in (
                ("shipped", ptg.per_token_group_fp8_quant.raw_kernel_func),
                ("clamped (before 2026-11-28)", group_quant_clamped),
            ):
                k = helion.kernel(body, static_shapes=False, config=config)
                _try(f"{label} groups={groups} w={warps}", lambda a, k=k: k(*a), args, check, nbytes, small)


def _fp8_check(ref_q: torch.Tensor, ref_s: torch.Tensor) -> Callable[..., None]:
    def check(_work: tuple[Any, ...], out: Any) -> None:
        # A bf16 step (up to 2**-7) in the scale: y is rounded to bf16 before its
        # amax, and another sigmoid may round one element the other way.
        torch.testing.assert_close(out[1], ref_s, atol=1e-6, rtol=2**-7)
        # Dequantised values within one e4m3 step (screening only: the kernel
        # tests hold the exact tolerance).
        scale = ref_s.expand_as(out[0].float()) if ref_s.shape[-1] == 1 else ref_s
        got, want = out[0].float() * scale, ref_q.float() * scale
        bound = 0.13 * torch.maximum(got.abs(), want.abs()) + scale * 2.0**-8
        assert bool(((got - want).abs() <= bound).all()), "fp8 values off by more than one e4m3 step"

    return check


def silu_and_mul_quant(small: bool, device: str) -> None:
    """The shipped kernel against ``silu_quant_rcp`` (the row scale's
    reciprocal; with inline PTX also silu's), same configs. Earlier on an
    H200 (2026-11-28): the clamp's removal, then the exp2 activation (16384 x
    11008, 32 warps: 365.9 clamped, 288.9 sigmoid, 253.0 exp2 us; those
    variants left the tool with the 2026-12-07 rewrite; before them a row
    reciprocal alone timed within 2% of the division). sm_90 instructions
    per element at 11008, 32 warps (tools/sass_count.py's compile): shipped
    24.8, row reciprocal 22.4, both reciprocals 19.4. On one H100
    (2026-12-07, 16384 x 11008, us): 16 warps 305.9 / 297.1 / 292.8, 32
    warps 292.0 / 291.2 / 290.6, 2 rows and 32 warps 335.5 / 317.9 / 316.9
    (shipped / row reciprocal / both); no variant failed its check. Since
    then "shipped" has both reciprocals itself (silu's through libdevice
    fast_dividef, which the interpreter can run); on a third H100 at 16384
    x 11008 it timed 294.0 / 295.0 / 291.7 (16 warps) and 289.9 / 290.5 /
    289.8 (32 warps); elsewhere within 1.3% of the row reciprocal, but
    for 256 x 11008 with 2 rows (10.7 against 10.3 us; not the stored config)."""
    shapes = [(8, 96)] if small else [(16384, 11008), (16384, 14336), (16384, 4096), (256, 11008)]
    for tokens, inter in shapes:
        (args,) = silu_quant.silu_and_mul_fp8_quant_inputs(tokens=(tokens,), hidden=(inter,), device=device).values()
        ref_q, ref_s = silu_quant.silu_and_mul_fp8_quant_reference(*args)
        if small:
            # The interpreter's float32 -> e4m3 rounding is off (see group_quant):
            # screen against the shipped kernel instead.
            config = helion.Config(block_sizes=[1], reduction_loops=[None], num_warps=4)
            shipped = silu_quant.silu_and_mul_fp8_quant.raw_kernel_func
            ref_q, ref_s = helion.kernel(shipped, static_shapes=False, config=config)(*args)
        x = args[0]
        nbytes = x.numel() * x.element_size() + ref_q.numel() + ref_s.numel() * 4
        print(f"silu_and_mul_fp8_quant tokens={tokens} intermediate={inter} ({nbytes / 1e6:.1f} MB)", flush=True)
        compiled = torch.compile(silu_quant.silu_and_mul_fp8_quant_reference, dynamic=False)
        check = _fp8_check(ref_q, ref_s)
        _try("inductor(reference)", lambda a, compiled=compiled: compiled(*a), args, check, nbytes, small)
        for rows, warps in ((1, 16), (1, 32), (2, 32)):
            config = helion.Config(block_sizes=[rows], reduction_loops=[None], num_warps=warps)
            shipped = helion.kernel(silu_quant.silu_and_mul_fp8_quant.raw_kernel_func, static_shapes=False, config=config)
            rcp = helion.kernel(silu_quant_rcp, static_shapes=False, config=config)
            runs = [("shipped", lambda a, k=shipped: k(*a)), ("row reciprocal", lambda a, k=rcp: k(*a, False))]
            if not small:  # inline PTX: not in the interpreter
                runs.append(("both reciprocals (rcp.approx)", lambda a, k=rcp: k(*a, True)))
            for label, run in runs:
                _try(f"{label} rows={rows} w={warps}", run, args, check, nbytes, small)


def eviction(small: bool, device: str) -> None:
    """Where Inductor is 3-4% ahead at 16384 tokens, or an op stays under 90%
    of the copy ceiling (H200, 2026-11-28): each op's stored config as
    shipped, then with every load marked evict-first, then evict-last
    (Helion's ``load_eviction_policies``), then with every load and store
    through a tensor descriptor (TMA; Helion's ``indexing``), alone and with
    evict-last loads; each checked against the reference. On an H200
    (2026-11-28) tensor descriptors changed no time by more than 0.2% at the
    seven shapes moving 330 MB or more, so the sweep does not try them. At
    the three moving 100-170 MB this tool's times were not to be trusted:
    per_token_group_fp8_quant's stored config took 74.7 us here and 30.5 us
    in ``helion-ops bench`` (probably the host's launch showing: this tool
    timed one plain ``helion.Kernel`` call at a time, with ``do_bench`` then;
    not checked)."""

    cases = [("silu_and_mul", 16384, 8192), ("silu_and_mul", 16384, 11008), ("rms_norm", 16384, 8192)]
    cases += [("fused_add_rms_norm", 16384, 4096), ("rotary_embedding", 16384, 4096), ("rms_norm", 16384, 2048)]
    cases += [("per_token_group_fp8_quant", 16384, 2048), ("silu_and_mul_fp8_quant", 16384, 11008)]
    cases += [("fused_add_rms_norm", 16384, 5120), ("rotary_embedding", 16384, 2048)]
    for name, tokens, width in [(n, 64, 256) for n, _, _ in cases[::2]] if small else cases:
        op, args, check = _case(name, tokens, width, device)
        key, stored, body = _stored_config(op, args)
        spec = helion.kernel(body, static_shapes=False).bind(args).config_spec
        loads = len(spec.default_config().config.get("load_eviction_policies", []))
        memory_ops = spec.indexing.length

        nbytes = _bench_bytes(op, args)
        print(f"{name} tokens={tokens} width={width} ({loads} loads; stored {key}: {stored})", flush=True)
        compiled = torch.compile(op.reference, dynamic=False)
        _try("inductor(reference)", lambda a, compiled=compiled: compiled(*a), args, lambda w, o: None, nbytes, small)
        descriptors = {"indexing": ["tensor_descriptor"] * memory_ops}
        evict_last = {"load_eviction_policies": ["last"] * loads}
        for label, change in (
            ("stored", {}),
            ("evict first", {"load_eviction_policies": ["first"] * loads}),
            ("evict last", evict_last),
            ("tensor descriptors", descriptors),
            ("tensor descriptors, evict last", {**descriptors, **evict_last}),
        ):
            k = helion.kernel(body, static_shapes=False, config=helion.Config(**{**stored, **change}))
            _try(label, lambda a, k=k: k(*a), args, check, nbytes, small)


def _median_after(flush: Callable[[], object], fn: Callable[[], object], small: bool, repeats: int = 100) -> float:
    """Median ms of ``fn``, each call timed alone after ``flush`` (the bench's
    loop with the flush as a parameter)."""
    from helion_ops.core._timing import median_ms_after

    if small:
        flush()
        return _bench(fn, small)
    fn()
    torch.cuda.synchronize()
    return median_ms_after(flush, fn, repeats)


def flush(small: bool, device: str) -> None:
    """Whether the bench's L2 flush is what kept the 64-170 MB shapes under
    90% of the 1 GiB copy ceiling (it was, in part: docs/benchmarks.md, the
    H200's fifth run; the bench now flushes read-only). ``do_bench`` zeroes a
    256 MB buffer before each call: the L2 then holds dirty lines that the
    timed call's own traffic evicts, writing them back while it runs. The
    same calls after that flush, after a flush that only reads 256 MB (the L2
    left clean), and back to back without a flush (inputs of up to the L2's
    size may stay in it): copies of 64-512 MB, then the ops at 2048 columns x
    16384 tokens with their shipped configs, and Inductor's compile of each
    reference."""
    from helion_ops.core import get_kernel

    buffer = torch.empty((1 << (20 if small else 28)) // 4, dtype=torch.int32, device=device)
    flushes: dict[str, Callable[[], object]] = {
        "zeroed (do_bench)": buffer.zero_,
        "read only": lambda: torch.sum(buffer),
        "none": lambda: None,
    }

    def report(label: str, fn: Callable[[], object], nbytes: int) -> None:
        cells = []
        for name, flush_fn in flushes.items():
            ms = _median_after(flush_fn, fn, small)
            cells.append(f"{name} {ms * 1e3:8.1f} us {nbytes / (ms * 1e-3) / 1e12:5.2f} TB/s")
        print(f"  {label:32s} " + " | ".join(cells), flush=True)

    for moved_mb in (2,) if small else (64, 128, 256, 512, 1024):
        src = torch.empty(moved_mb << 19, dtype=torch.uint8, device=device)
        dst = torch.empty_like(src)
        report(f"copy moving {moved_mb} MB", lambda src=src, dst=dst: dst.copy_(src), 2 * src.numel())
    for name in ("rms_norm", "per_token_group_fp8_quant", "rotary_embedding", "fused_add_rms_norm"):
        op = get_kernel(name)
        (args,) = op.input_generator(tokens=(64 if small else 16384,), hidden=(256 if small else 2048,), device=device).values()
        nbytes = _bench_bytes(op, args)
        print(f"{name} ({nbytes / 1e6:.1f} MB)", flush=True)
        work = _clone(args)  # the in-place ops rewrite these: timing only
        report("helion-ops", lambda op=op, work=work: op(*work), nbytes)
        compiled = torch.compile(op.reference, dynamic=False)
        report("inductor(reference)", lambda compiled=compiled, work=work: compiled(*work), nbytes)


def _second_pass_row_loads(code: str, shared: str) -> list[bool]:
    """Per load of a row-loop kernel's generated Triton code, in order (the
    order of ``load_eviction_policies``): whether it lies in the second loop
    over the row and reads a per-row tensor (not ``shared``, the weight)."""
    found, loops = [], 0
    for line in code.splitlines():
        if "for roffset" in line:
            loops += 1
        elif "tl.load(" in line:
            found.append(loops >= 2 and f"tl.load({shared} +" not in line)
    return found


def two_pass(small: bool, device: str) -> None:
    """fused_add_rms_norm 5120 x 16384 stays at 0.97x Inductor (H200, fifth
    run). Inductor's kernel there loops over the row twice (chunks of 4096,
    16 warps) with the first pass's loads evict-last and the second's row
    loads evict-first (the weight evict-last): the row is kept in L2 for
    its re-read, then let go. The stored row-loop configs of the two norms,
    as stored, with that mixed marking, with 16 warps, and with both; for
    fused_add_rms_norm also ``fused_add_rms_norm_reread`` (its second loop
    reads the stored sum: one row read from L2, not two); each checked
    against the reference, Inductor beside them; then the re-read kernel at
    decode shapes, one block per row. On one H100 (2026-12-07) no marking
    closed the gap (fused 5120 x 16384: Inductor 219.6, stored 222.3,
    variants 221.7-222.0 us). The re-read kernel with an element-wise sum of
    squares, on two more H100s the same day (us; the second machine's
    figures in brackets): fused 5120 x 16384 Inductor 219.6 [218.2], stored
    222.5 [220.4], re-read 4096 x 16 warps with the first loop's rows
    evict-last 220.7 [218.8] (8192-element blocks 225-266); 4096 x 16384
    Inductor 175.2 [173.8], stored 175.6 [174.1], re-read 174.9 [173.5]. At
    decode it loses what it gains there: 256 x 5120 stored 7.4, re-read
    7.7-8.0; 1 x 4096 5.1 against 5.5-5.8; 1 x 8192 5.3 against 6.0-6.6
    (one call after an L2 flush). Which loop structure a kernel has is not a
    config choice, so re-reading at large shapes only would take a second
    Helion kernel behind the op (and new configs on both GPUs) for 0.7%; it
    stays here."""

    cases = [("fused_add_rms_norm", 16384, 5120), ("fused_add_rms_norm", 16384, 4096), ("rms_norm", 16384, 5120)]
    for name, tokens, width in [(n, 64, 5120) for n, _, _ in cases[::2]] if small else cases:
        op, args, check = _case(name, tokens, width, device)
        _, stored, body = _stored_config(op, args)
        if not stored.get("reduction_loops") or stored["reduction_loops"] == [None]:
            stored = {**stored, "block_sizes": [1], "reduction_loops": [4096], "num_warps": 8}
        bound = helion.kernel(body, static_shapes=False).bind(args)
        policies = len(bound.config_spec.default_config().config.get("load_eviction_policies", []))
        code = bound.to_triton_code(helion.Config(**stored))
        second = _second_pass_row_loads(code, "weight") + [False] * policies
        mixed = {"load_eviction_policies": ["first" if second[i] else "last" for i in range(policies)]}

        nbytes = _bench_bytes(op, args)
        print(f"{name} tokens={tokens} width={width} (stored: {stored}; mixed: {mixed})", flush=True)
        compiled = torch.compile(op.reference, dynamic=False)
        _try("inductor(reference)", lambda a, compiled=compiled: compiled(*a), args, lambda w, o: None, nbytes, small)
        for label, change in (
            ("stored", {}),
            ("second pass evict-first", mixed),
            ("16 warps", {"num_warps": 16}),
            ("16 warps, second pass evict-first", {**mixed, "num_warps": 16}),
        ):
            k = helion.kernel(body, static_shapes=False, config=helion.Config(**{**stored, **change}))
            _try(label, lambda a, k=k: k(*a), args, check, nbytes, small)
        if name != "fused_add_rms_norm":
            continue
        # The first H100 probe (2026-12-07) timed 1024-4096 x 8-16 warps with
        # no marking, Inductor's (the rows evict-first, the weight evict-last)
        # and the first loop's rows evict-last: the last was best at every
        # block (5120 x 16384: 4096 w16 220.7 us, stored 222.5, Inductor
        # 219.6). It stays, beside all four loads evict-last.
        marks = {"first-last": _REREAD_FIRST_LOOP_LAST, "last": ["last"] * 4}
        for block, warps in ((2048, 16), (4096, 8), (4096, 16), (8192, 16), (8192, 32)):
            for mark, policies in marks.items():
                _try_reread(f"sum re-read, {block} w{warps} {mark}", args, check, nbytes, small, block, warps, policies)
    # Decode: one block covers the row, so the second loop re-reads the row
    # the first just stored; what that costs where the shipped kernel holds
    # the row in registers.
    for tokens, width in [(4, 512)] if small else [(256, 5120), (256, 8192), (1, 4096), (1, 8192)]:
        op, args, check = _case("fused_add_rms_norm", tokens, width, device)
        _, stored, body = _stored_config(op, args)
        nbytes = _bench_bytes(op, args)
        print(f"fused_add_rms_norm tokens={tokens} width={width} (stored: {stored})", flush=True)
        stored_kernel = helion.kernel(body, static_shapes=False, config=helion.Config(**stored))
        _try("stored", lambda a, k=stored_kernel: k(*a), args, check, nbytes, small)
        block = next_power_of_2(width)
        for warps in (4, 8, 16):
            _try_reread(f"sum re-read, {block} w{warps}", args, check, nbytes, small, block, warps, _REREAD_FIRST_LOOP_LAST)


# ``fused_add_rms_norm_reread``'s four loads (x, residual, the stored sum,
# weight): the first loop's rows evict-last, the stored sum evict-first.
_REREAD_FIRST_LOOP_LAST = ["last", "last", "first", "last"]


def _try_reread(
    label: str,
    args: tuple[Any, ...],
    check: Callable[..., None],
    nbytes: int,
    small: bool,
    block: int,
    warps: int,
    policies: list[str],
) -> None:
    """``fused_add_rms_norm_reread`` with ``block`` columns per loop step, one
    row per program, checked and timed as ``_try`` does."""
    config = helion.Config(block_sizes=[block, 1], num_warps=warps, load_eviction_policies=policies)
    kernel = helion.kernel(fused_add_rms_norm_reread, static_shapes=False, config=config)
    _try(label, lambda a: kernel(*a), args, check, nbytes, small)


def row_loop(small: bool, device: str) -> None:
    """The op's ``stored_sum`` variant (the re-read as Helion's row loop),
    with explicit configs, at the large shapes, against the shipped kernel's stored config and
    Inductor: chunks x warps x eviction marking (none; every load
    evict-last; the first loop's loads evict-last and the second loop's row
    load evict-first, Inductor's)."""
    sizes = [(64, 512)] if small else [(16384, 5120), (16384, 4096), (16384, 8192), (16384, 2048), (4096, 5120)]
    for tokens, width in sizes:
        op, args, check = _case("fused_add_rms_norm", tokens, width, device)
        _, stored, body = _stored_config(op, args)
        nbytes = _bench_bytes(op, args)
        print(f"fused_add_rms_norm tokens={tokens} width={width} (stored: {stored})", flush=True)
        compiled = torch.compile(op.reference, dynamic=False)
        _try("inductor(reference)", lambda a, compiled=compiled: compiled(*a), args, lambda w, o: None, nbytes, small)
        shipped = helion.kernel(body, static_shapes=False, config=helion.Config(**stored))
        _try("stored", lambda a, k=shipped: k(*a), args, check, nbytes, small)
        bound = helion.kernel(fused_add_rms_norm_stored_sum, static_shapes=False).bind(args)
        policies = len(bound.config_spec.default_config().config.get("load_eviction_policies", []))
        chunks = (16, 32) if small else (2048, 4096)
        for chunk in chunks:
            base = {"block_sizes": [1], "reduction_loops": [chunk]}
            code = bound.to_triton_code(helion.Config(**base))
            second = _second_pass_row_loads(code, "weight") + [False] * policies
            marks = {
                "none": {},
                "last": {"load_eviction_policies": ["last"] * policies},
                "mixed": {"load_eviction_policies": ["first" if second[i] else "last" for i in range(policies)]},
            }
            for warps in (4, 8) if small else (8, 16):
                for mark, change in marks.items():
                    config = helion.Config(**base, num_warps=warps, **change)
                    k = helion.kernel(fused_add_rms_norm_stored_sum, static_shapes=False, config=config)
                    _try(f"stored sum, {chunk} w{warps} {mark}", lambda a, k=k: k(*a), args, check, nbytes, small)


def host_breakdown(device: str) -> None:
    """Host us per call of each step of an eager rms_norm 8x4096 bf16 call."""
    from helion_ops.core._eager import call_signature
    from helion_ops.kernels import _rms_norm as rms

    (args,) = rms.rms_norm_inputs(tokens=(8,), hidden=(4096,), device=device).values()
    op = rms.rms_norm
    for _ in range(5):
        op(*args)
    sig = call_signature(args)
    plan = op._plans.get(sig) if op._plans is not None else None
    launcher = getattr(plan, "launcher", None)
    x = args[0]
    steps: dict[str, Callable[[], object]] = {
        "torch.add": lambda: torch.add(x, x),
        "torch.empty_like": lambda: torch.empty_like(x),
        "call_signature": lambda: call_signature(args),
        "plan(*args)": (lambda: plan(*args)) if plan is not None else (lambda: None),
        "plan.replay.run(*args)": (lambda: plan.replay.run(*args)) if getattr(plan, "replay", None) else (lambda: None),
        "op(*args)": lambda: op(*args),
    }
    replay = getattr(plan, "replay", None)
    print(f"host breakdown: plan={plan is not None} launcher={launcher is not None} replay={replay is not None}", flush=True)
    _print_host_times(steps)
    if launcher is not None:
        print(f"  launches: direct {launcher.direct_launches}, fallback {launcher.fallback_launches}", flush=True)
        _launch_breakdown(op, args, launcher)
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(2000):
        op(*args)
    profiler.disable()
    torch.cuda.synchronize()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(14)


def _print_host_times(steps: dict[str, Callable[[], object]]) -> None:
    """Host us per call of each step: best of 20 rounds of 100 back-to-back
    calls, the GPU drained before each round (so launches never wait for a
    full launch queue: round time is host time)."""
    for name, fn in steps.items():
        best = float("inf")
        for _ in range(20):
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            for _ in range(100):
                fn()
            best = min(best, (time.perf_counter() - t0) / 100)
        torch.cuda.synchronize()
        print(f"  {name:24s} {best * 1e6:7.2f} us (best of 20 rounds of 100)", flush=True)


def _launch_breakdown(op: Any, args: tuple[Any, ...], launcher: Any) -> None:
    """The plan's pieces: Helion's host code with a launcher that does nothing,
    our launcher's checks, and the compiled kernel's launch alone."""
    from helion_ops.dynamo_bridge import _compat

    host = _compat.compiled_host_function(op.configured.kernel, args)
    seen: list[tuple[Any, ...]] = []

    def record(kernel: object, grid: tuple[int, ...], *a: object, **options: Any) -> None:
        seen.append((kernel, grid, a, options))

    host(*args, _launcher=record)
    kernel, grid, launch_args, options = seen[0]
    compiled = launcher._compiled[kernel]
    stream = _compat.current_cuda_stream()
    hooks = _compat.launch_hooks_check()
    steps: dict[str, Callable[[], object]] = {
        "host code, no launch": lambda: host(*args, _launcher=lambda *a, **k: None),
        "our launcher": lambda: launcher(kernel, grid, *launch_args, **options),
        "compiled.run": lambda: compiled.run(
            grid[0], 1, 1, stream(), compiled.function, compiled.packed_metadata, None, None, None, *launch_args
        ),
        "stream()": stream,
        "hooks()": hooks,
    }
    raw = launcher._raw.get(id(kernel))
    if raw is not None:
        launch, function, head = raw
        print(f"  learned launch: {getattr(launch, '__qualname__', type(launch).__name__)}", flush=True)
        # Pointers as ints: the C launch then skips its per-tensor
        # data_ptr() call and cuPointerGetAttribute (what is that worth?).
        as_ints = tuple(a.data_ptr() if isinstance(a, torch.Tensor) else a for a in launch_args)
        steps["learned launch"] = lambda: launch(grid[0], 1, 1, stream(), function, *head, *launch_args)
        steps["learned launch, int ptrs"] = lambda: launch(grid[0], 1, 1, stream(), function, *head, *as_ints)
        static = _torch_static_launch(compiled, grid, as_ints, stream)
        if static is not None:
            steps["torch static launcher"] = static
    _print_host_times(steps)


def _torch_static_launch(
    compiled: Any, grid: tuple[int, ...], launch_args: tuple[Any, ...], stream: Callable[[], int]
) -> Callable[[], object] | None:
    """The same launch through torch's C++ launcher for Triton kernels
    (Inductor's ``StaticallyLaunchedCudaKernel``, torch >= 2.8): is it cheaper
    than Triton's C launch? None (with the reason) where it cannot be built."""
    try:
        from torch._inductor.runtime.static_triton_launcher import StaticallyLaunchedCudaKernel

        if not hasattr(compiled, "_cubin_path"):
            # Inductor sets it on the kernels it compiles; only load_kernel()
            # reads it, and this launch uses the function Triton loaded.
            compiled._cubin_path = None  # (torch 2.11 refused the kernel without it)
        static = StaticallyLaunchedCudaKernel(compiled)
        names = list(compiled.src.fn.arg_names)

        def index(key: Any) -> int:
            return names.index(key) if isinstance(key, str) else key[0] if isinstance(key, tuple) else int(key)

        signature = {index(k): v for k, v in compiled.src.signature.items()}
        constants = {index(k) for k in getattr(compiled.src, "constants", {})}
        kept = [launch_args[i] for i in sorted(signature) if signature[i] != "constexpr" and i not in constants]
        arg_tys = static.arg_tys
        for needed in (static.has_global_scratch, static.has_profile_scratch):
            if needed:
                arg_tys += "O"
                kept.append(None)
        args = tuple(kept)
        num_warps, shared, function = static.num_warps, static.shared, compiled.function
        launch_kernel = static.C_impl._launch_kernel
        print(f"  torch static launcher: {len(args)} args '{arg_tys}'", flush=True)
        return lambda: launch_kernel(function, grid[0], 1, 1, num_warps, shared, arg_tys, args, stream())
    except Exception as exc:  # noqa: BLE001 - a diagnosis: say why and go on
        print(f"  torch static launcher: unavailable ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})")
        return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", action="store_true", help="tiny shapes on CPU (Triton's interpreter)")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=("rotary", "quant", "silu_quant", "host", "eviction", "flush", "twopass", "rowloop"),
        default=None,
    )
    opts, _ = parser.parse_known_args()
    wanted = set(opts.only or ("rotary", "quant", "silu_quant", "host"))
    device = "cpu" if opts.small else "cuda"
    if not opts.small:
        from helion_ops.core._bench import copy_ceiling_tbps

        print(f"copy ceiling {copy_ceiling_tbps(repeats=1):.2f} TB/s", flush=True)
        _copy_by_size(device)
        if "host" in wanted:
            host_breakdown(device)
    if "rotary" in wanted:
        rotary(opts.small, device)
    if "quant" in wanted:
        group_quant(opts.small, device)
    if "eviction" in wanted:
        eviction(opts.small, device)
    if "silu_quant" in wanted:
        silu_and_mul_quant(opts.small, device)
    if "flush" in wanted:
        flush(opts.small, device)
    if "twopass" in wanted:
        two_pass(opts.small, device)
    if "rowloop" in wanted:
        row_loop(opts.small, device)


if __name__ == "__main__":
    main()
