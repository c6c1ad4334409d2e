"""What Inductor makes of an op's reference at one shape, on a CUDA GPU.

    python tools/inductor_code.py OP --tokens T --hidden H [--out FILE]

Compiles the op's pure-PyTorch reference with ``torch.compile(dynamic=False)``
(as ``helion-ops bench``'s ``inductor`` contender does) on the input
generator's tensors for that shape, runs it, and prints each generated Triton
kernel's source and the launch config Inductor's own autotuning kept (block
sizes, warps, stages, registers). Not part of the package: it is how to see
why Inductor is faster at a shape than the op's Helion kernel.
"""

from __future__ import annotations

import argparse
import sys

import torch


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("op")
    parser.add_argument("--tokens", type=int, required=True)
    parser.add_argument("--hidden", type=int, required=True, help="the generator's width (hidden or intermediate size)")
    parser.add_argument("--out", help="also write the kernels' source here")
    parser.add_argument("--device", default="cuda", help="cpu checks the script itself (C++ kernels, no launchers)")
    opts = parser.parse_args(argv)

    from torch._inductor.utils import run_and_get_code

    import helion_ops.kernels  # noqa: F401  (registers the ops)
    from helion_ops.core import get_kernel
    from helion_ops.dynamo_bridge import recorded_inductor_launches

    op = get_kernel(opts.op)
    (args,) = op.input_generator(tokens=(opts.tokens,), hidden=(opts.hidden,), device=opts.device).values()
    compiled = torch.compile(op.reference, dynamic=False)
    with recorded_inductor_launches() as launches:
        _, sources = run_and_get_code(compiled, *args)
        if opts.device != "cpu":
            torch.cuda.synchronize()
    print(f"{opts.op} tokens={opts.tokens} width={opts.hidden}: {len(sources)} generated module(s)")
    for line in launches:
        print("  " + line)
    kernels = "\n\n".join(sources)
    if opts.out:
        with open(opts.out, "w") as f:
            f.write(kernels)
    else:
        sys.stdout.write(kernels)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
