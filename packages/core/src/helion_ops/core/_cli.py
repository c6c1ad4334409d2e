"""The ``helion-ops`` command: demo, list, doctor.

Kernel packages contribute ops through the ``helion_ops.kernels`` entry point.
Errors exit non-zero with one line, no traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import Any

EXIT_USAGE = 2


def _load() -> dict[str, Any]:
    from . import _registry

    _registry.load_entry_points()
    return _registry.registered_kernels()


def _cpu_demo_inputs(wrapper: Any) -> tuple[Any, ...]:
    import torch

    generator = wrapper.input_generator
    inputs = generator(tokens=(1, 5), hidden=(64,), dtype=torch.float32, device="cpu")
    return next(iter(inputs.values()))


def _gpu_demo_inputs(wrapper: Any) -> tuple[Any, ...]:
    inputs = wrapper.get_inputs()
    return next(iter(inputs.values()))


def cmd_list(_args: argparse.Namespace) -> int:
    for name, wrapper in _load().items():
        print(f"{name:32s} platform={wrapper.platform:14s} configs={len(wrapper.configured.entries):3d}  {wrapper.module}")
    return 0


def cmd_doctor(_args: argparse.Namespace) -> int:
    import torch

    from helion_ops import dynamo_bridge

    from ._platform import current_platform

    print(dynamo_bridge.capabilities())
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "none"
    print(f"gpu                    {gpu}")
    print(f"platform               {current_platform()}")
    print(f"dynamo mode            {dynamo_bridge.get_mode().value}")
    for name, wrapper in _load().items():
        configured = wrapper.configured
        keys = sorted(configured.entries)
        print(f"\n{name}: {len(keys)} config entries on {configured.platform}; missing-config policy {wrapper.policy.value}")
        if not keys:
            print(f"  warning: no configs for {configured.platform}; run `helion-ops autotune {name}` on this GPU")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    import torch

    from helion_ops import dynamo_bridge

    on_gpu = torch.cuda.is_available()
    kernels = _load()
    if not kernels:
        print("helion-ops: no kernels found; install helion-ops-kernels", file=sys.stderr)
        return 1
    print(f"torch {torch.__version__}, device {'cuda' if on_gpu else 'cpu (Triton interpreter)'}")
    print(f"{'op':24s} {'mode':10s} {'breaks':>6s} {'eager err':>10s} {'compiled err':>12s} {'eager ms':>9s} {'compiled ms':>11s}")
    failures = 0
    shown_graph = None
    for name, wrapper in kernels.items():
        if wrapper.reference is None or wrapper.input_generator is None:
            continue
        args_ = _gpu_demo_inputs(wrapper) if on_gpu else _cpu_demo_inputs(wrapper)
        expected = wrapper.reference(*args_)
        start = time.perf_counter()
        eager = wrapper(*args_)
        eager_ms = (time.perf_counter() - start) * 1e3
        graphs: list[Any] = []

        def capture(gm: Any, example_inputs: Any, _graphs: list[Any] = graphs) -> Any:
            _graphs.append(gm)
            return gm.forward

        torch._dynamo.reset()

        def call(*a: Any, _w: Any = wrapper) -> Any:
            return _w(*a)

        explanation = torch._dynamo.explain(call)(*args_)
        torch._dynamo.reset()
        torch.compile(call, backend=capture, fullgraph=True)(*args_)
        torch._dynamo.reset()
        start = time.perf_counter()
        compiled = torch.compile(call, fullgraph=True)(*args_)
        compiled_ms = (time.perf_counter() - start) * 1e3
        err_e = (eager.float() - expected.float()).abs().max().item()
        err_c = (compiled.float() - expected.float()).abs().max().item()
        device = "cuda" if on_gpu else "cpu"
        mode = dynamo_bridge.resolve_mode(device, name).value
        ok = err_e <= args.tolerance and err_c <= args.tolerance and explanation.graph_break_count == 0
        failures += not ok
        print(f"{name:24s} {mode:10s} {explanation.graph_break_count:6d} {err_e:10.2e} {err_c:12.2e} {eager_ms:9.1f} {compiled_ms:11.1f}{'' if ok else '  FAIL'}")
        if shown_graph is None and graphs:
            shown_graph = (name, graphs[0])
    if shown_graph is not None:
        name, gm = shown_graph
        print(f"\ncaptured FX graph of {name} (auto mode):")
        print(gm.graph)
        if dynamo_bridge.capabilities().hop_tracing:
            hop_graphs: list[Any] = []

            def capture_hop(gm: Any, example_inputs: Any) -> Any:
                hop_graphs.append(gm)
                return gm.forward

            dynamo_bridge.set_mode("hop")
            try:
                torch._dynamo.reset()
                wrapper = kernels[name]
                args_ = _gpu_demo_inputs(wrapper) if on_gpu else _cpu_demo_inputs(wrapper)
                torch.compile(lambda *a: wrapper(*a), backend=capture_hop, fullgraph=True)(*args_)
            finally:
                dynamo_bridge.set_mode(None)
            print(f"\ncaptured FX graph of {name} with the HOP (mode 'hop'):")
            print(hop_graphs[0].graph)
    return 1 if failures else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="helion-ops", description="Helion kernels as PyTorch ops.")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run every shipped op eagerly and compiled, check against references")
    demo.add_argument("--tolerance", type=float, default=5e-2, help="max abs error accepted (default 5e-2)")
    demo.set_defaults(func=cmd_demo)
    sub.add_parser("list", help="list registered ops").set_defaults(func=cmd_list)
    sub.add_parser("doctor", help="versions, capabilities, platform and config coverage").set_defaults(func=cmd_doctor)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from ._errors import HelionOpsError

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except HelionOpsError as exc:
        print(f"helion-ops: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
