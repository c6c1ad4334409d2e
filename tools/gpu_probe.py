"""One-shot GPU probe: environment, each op eager/compiled/cudagraph, a few timings."""
import os, sys, time, traceback, json
import torch
print("torch", torch.__version__, "cuda", torch.cuda.get_device_name(0), flush=True)
import importlib.metadata as md
for n in ["triton", "helion", "numpy", "psutil", "rich", "scikit-learn", "liger-kernel", "pytest", "matplotlib", "ray", "packaging"]:
    try: print(" ", n, md.version(n))
    except Exception: print(" ", n, "MISSING")
from helion_ops.dynamo_bridge import capabilities
print(capabilities(), flush=True)
from helion_ops.core import set_missing_config_policy
import helion_ops.kernels as K
import importlib
R, F, S, SQ, PQ, RO = (importlib.import_module('helion_ops.kernels._' + n) for n in ('rms_norm', 'fused_add_rms_norm', 'silu_and_mul', 'silu_and_mul_fp8_quant', 'per_token_group_fp8_quant', 'rotary_embedding'))
import torch._dynamo.testing as dt

def check(name, fn):
    t0 = time.time()
    try:
        fn(); print(f"OK   {name} {time.time()-t0:.1f}s", flush=True)
    except Exception as e:
        print(f"FAIL {name}: {type(e).__name__}: {str(e)[:600]}", flush=True)
        traceback.print_exc(limit=-3, file=sys.stdout)

dev = "cuda"
def rms(tokens):
    for t in tokens:
        x = torch.randn(t, 4096, device=dev, dtype=torch.bfloat16); w = torch.randn(4096, device=dev, dtype=torch.bfloat16)
        torch.testing.assert_close(R.rms_norm(x, w), R.rms_norm_reference(x, w), atol=2e-2, rtol=2e-2)
check("rms eager 1,8,256,4096", lambda: rms((1, 8, 256, 4096)))
def silu(tokens):
    for t in tokens:
        x = torch.randn(t, 2*4096, device=dev, dtype=torch.bfloat16)
        torch.testing.assert_close(S.silu_and_mul(x), S.silu_and_mul_reference(x), atol=2e-2, rtol=2e-2)
check("silu eager", lambda: silu((1, 8, 4096)))
def farn(tokens):
    for t in tokens:
        x = torch.randn(t, 4096, device=dev, dtype=torch.bfloat16); r = torch.randn_like(x); w = torch.randn(4096, device=dev, dtype=torch.bfloat16)
        r2 = r.clone(); o = F.fused_add_rms_norm(x, r, w); o2 = F.fused_add_rms_norm_reference(x, r2, w)
        torch.testing.assert_close(o, o2, atol=2e-2, rtol=2e-2); torch.testing.assert_close(r, r2)
check("farn eager", lambda: farn((1, 8, 4096)))
def siluq(tokens):
    for t in tokens:
        x = torch.randn(t, 2*4096, device=dev, dtype=torch.bfloat16)
        q, s = SQ.silu_and_mul_fp8_quant(x); q2, s2 = SQ.silu_and_mul_fp8_quant_reference(x)
        torch.testing.assert_close(s, s2); torch.testing.assert_close(q.float()*s, q2.float()*s2, atol=0.5, rtol=0.13)
check("siluq eager", lambda: siluq((1, 8, 4096)))
def pq(tokens):
    for t in tokens:
        x = torch.randn(t, 4096, device=dev, dtype=torch.bfloat16)
        q, s = PQ.per_token_group_fp8_quant(x, 128); q2, s2 = PQ.per_token_group_fp8_quant_reference(x, 128)
        torch.testing.assert_close(s, s2); torch.testing.assert_close(q.float(), q2.float(), atol=0.5, rtol=0.13)
check("pq eager", lambda: pq((1, 8, 4096)))
def rope(tokens):
    for t in tokens:
        (pos, q, k, c, hs), = RO.rotary_embedding_inputs(tokens=(t,), hidden=(4096,)).values()
        q2, k2 = q.clone(), k.clone(); RO.rotary_embedding(pos, q, k, c, hs); RO.rotary_embedding_reference(pos, q2, k2, c, hs)
        torch.testing.assert_close(q, q2, atol=2e-2, rtol=2e-2); torch.testing.assert_close(k, k2, atol=2e-2, rtol=2e-2)
check("rope eager", lambda: rope((1, 8, 4096)))

def compiled_rms(mode=None):
    torch._dynamo.reset()
    cnt = dt.CompileCounterWithBackend("inductor")
    f = torch.compile(lambda x, w: R.rms_norm(x * 2, w) + 1, fullgraph=True, dynamic=True, backend=cnt if mode is None else "inductor", mode=mode)
    for t in (1, 8, 256, 4096):
        x = torch.randn(t, 4096, device=dev, dtype=torch.bfloat16); w = torch.randn(4096, device=dev, dtype=torch.bfloat16)
        for _ in range(3):
            out = f(x, w)
        torch.testing.assert_close(out, R.rms_norm_reference(x * 2, w) + 1, atol=5e-2, rtol=2e-2)
    if mode is None: print("   frames compiled:", cnt.frame_count)
check("rms inductor dynamic", compiled_rms)
check("rms reduce-overhead", lambda: compiled_rms("reduce-overhead"))
from helion_ops.dynamo_bridge import set_mode
def hop_inductor():
    set_mode("hop")
    try: compiled_rms()
    finally: set_mode(None)
check("rms HOP forced inductor", hop_inductor)
def hop_aot():
    set_mode("hop"); torch._dynamo.reset()
    try:
        f = torch.compile(lambda x, w: R.rms_norm(x, w), fullgraph=True, dynamic=True, backend="aot_eager")
        x = torch.randn(8, 4096, device=dev, dtype=torch.bfloat16); w = torch.randn(4096, device=dev, dtype=torch.bfloat16)
        torch.testing.assert_close(f(x, w), R.rms_norm_reference(x, w), atol=2e-2, rtol=2e-2)
    finally: set_mode(None)
check("rms HOP aot_eager", hop_aot)

from triton.testing import do_bench
def bw():
    x = torch.empty(16384 * 8192 * 2 // 4, device=dev, dtype=torch.float32); y = torch.empty_like(x)
    ms = do_bench(lambda: y.copy_(x), return_mode="median")
    print(f"   copy ceiling {2 * x.numel() * 4 / ms / 1e6:.0f} GB/s")
    for m, n in ((4096, 4096), (16384, 8192)):
        x = torch.randn(m, n, device=dev, dtype=torch.bfloat16); w = torch.randn(n, device=dev, dtype=torch.bfloat16)
        ref = torch.compile(R.rms_norm_reference, dynamic=False)
        for name, fn in (("helion-default", lambda: R.rms_norm(x, w)), ("inductor", lambda: ref(x, w))):
            fn(); ms = do_bench(fn, return_mode="median")
            print(f"   rms {m}x{n} {name}: {ms*1e3:.1f} us {2*m*n*2/ms/1e6:.0f} GB/s")
check("bandwidth", bw)

def host():
    x = torch.randn(8, 4096, device=dev, dtype=torch.bfloat16); w = torch.randn(4096, device=dev, dtype=torch.bfloat16)
    raw = R.rms_norm.kernel
    fns = {"wrapper": lambda: R.rms_norm(x, w), "raw configured kernel": lambda: raw(x, w, 1e-6), "torch.add": lambda: torch.add(x, x), "reference": lambda: R.rms_norm_reference(x, w)}
    for name, fn in fns.items():
        for _ in range(100): fn()
        torch.cuda.synchronize()
        n = 2000; t0 = time.perf_counter()
        for _ in range(n): fn()
        t1 = time.perf_counter(); torch.cuda.synchronize()
        print(f"   host {name}: {(t1-t0)/n*1e6:.1f} us/call")
check("host overhead", host)
