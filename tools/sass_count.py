"""SASS of an op's Helion kernel for an H100/H200 (sm_90), on a machine without a GPU.

    python tools/sass_count.py OP --tokens T --hidden H [--platform nvidia_h200]
                               [--config '{"block_sizes": [1], "num_warps": 8}'] [--dump FILE]

Helion generates the Triton code for the op's input at that shape (CPU
tensors; the config is the stored one the op selects for the shape on the
platform, or ``--config``); the generated host function is called with a
launcher that compiles the kernel for sm_90 instead of launching it (its
signature from the actual arguments: tensors 16-byte aligned, integers equal
to 1 constant, as Triton specialises them on a GPU); Triton's bundled
``nvdisasm`` and ``cuobjdump`` then give the instructions and registers.
Printed: instruction count (NOPs left out), registers per thread, the most
frequent opcodes, and instructions per element when ``--elements-per-thread``
is given (straight-line kernels only: a loop's body runs more than once).

Needs a torch whose triton has the NVIDIA backend (the CUDA wheels do, also
on CPU; the ``matrix-row-torch2-11-helion1-5-0`` nox environment is the GPU
machine's torch 2.11 + triton 3.6). Not part of the package: it is how
issue 5's fp8 kernels were found to be issue-rate bound (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import subprocess
import tempfile
from typing import Any

import torch

_TRITON_TYPES = {
    torch.bfloat16: "bf16",
    torch.float16: "fp16",
    torch.float32: "fp32",
    torch.float8_e4m3fn: "fp8e4nv",
    torch.int64: "i64",
    torch.int32: "i32",
}
_INSTRUCTION = re.compile(r"^\s+/\*[0-9a-f]{4}\*/\s+(?:@!?U?P\w+\s+)?([A-Z0-9_]+)")


def _signature(kernel: Any, args: tuple[Any, ...]) -> tuple[dict[str, str], dict[Any, Any], dict[Any, Any]]:
    signature: dict[str, str] = {}
    constants: dict[Any, Any] = {}
    attrs: dict[Any, Any] = {}
    for i, (name, param, value) in enumerate(zip(kernel.arg_names, kernel.params, args, strict=True)):
        if param.is_constexpr or (isinstance(value, int) and not isinstance(value, bool) and value == 1):
            signature[name], constants[(i,)] = "constexpr", value
        elif isinstance(value, torch.Tensor):
            signature[name], attrs[(i,)] = "*" + _TRITON_TYPES[value.dtype], [["tt.divisibility", 16]]
        elif isinstance(value, bool):
            signature[name] = "i1"
        elif isinstance(value, int):
            signature[name] = "i32" if abs(value) < 2**31 else "i64"
            if value % 16 == 0:
                attrs[(i,)] = [["tt.divisibility", 16]]
        elif isinstance(value, float):
            signature[name] = "fp32"
        else:
            raise TypeError(f"argument {name!r}: no Triton type for {type(value).__name__}")
    return signature, constants, attrs


def compile_for_sm90(fn: Any, args: tuple[Any, ...], config: dict[str, Any]) -> bytes:
    """The cubin of ``fn``'s Triton kernel for ``args`` and ``config``, built for sm_90."""
    import helion
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    built: list[bytes] = []

    def launcher(kernel: Any, grid: Any, *kernel_args: Any, num_warps: int = 4, num_stages: int = 1, **_: Any) -> None:
        signature, constants, attrs = _signature(kernel, kernel_args)
        source = ASTSource(kernel, signature, constants, attrs)
        options = {"num_warps": num_warps, "num_stages": num_stages}
        built.append(triton.compile(source, target=GPUTarget("cuda", 90, 32), options=options).asm["cubin"])

    bound = helion.kernel(fn, static_shapes=False).bind(args)
    bound.compile_config(helion.Config(**config))(*args, _launcher=launcher)
    if len(built) != 1:
        raise RuntimeError(f"expected the host code to launch one kernel, found {len(built)}")
    return built[0]


def sass_report(cubin: bytes) -> tuple[str, collections.Counter[str], int | None]:
    """The disassembly, its opcode counts (NOPs left out) and the registers per thread."""
    import triton

    tools = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin")
    with tempfile.NamedTemporaryFile(suffix=".cubin", delete=False) as f:
        f.write(cubin)
    try:
        sass = subprocess.run([f"{tools}/nvdisasm", "-c", f.name], capture_output=True, text=True, check=True).stdout
        usage = subprocess.run([f"{tools}/cuobjdump", "-res-usage", f.name], capture_output=True, text=True).stdout
    finally:
        os.unlink(f.name)
    opcodes = collections.Counter(m.group(1) for line in sass.splitlines() if (m := _INSTRUCTION.match(line)))
    opcodes.pop("NOP", None)
    regs = re.search(r"REG:(\d+)", usage)
    return sass, opcodes, int(regs.group(1)) if regs else None


def _stored_config(op: Any, args: tuple[Any, ...], platform: str) -> tuple[str, dict[str, Any], Any]:
    from helion_ops.core import ConfigSelector

    entries = op.config_store.load(op.op_name, platform)
    selector = ConfigSelector(op.op_name, op.raw_kernel_func, entries, config_picker=op.config_picker, keys=op.keys)
    key = selector.select(args)
    if key not in entries:
        raise SystemExit(f"op {op.op_name!r}: no stored {platform} config for key {key!r}; pass --config")
    # With the kernel function the entry is for (the op's own, or its variant).
    return key, dict(entries[key].config), op.function_of(entries[key].variant)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("op")
    parser.add_argument("--tokens", type=int, required=True)
    parser.add_argument("--hidden", type=int, required=True, help="the shape's width key (hidden or intermediate)")
    parser.add_argument("--platform", default="nvidia_h200")
    parser.add_argument("--config", type=json.loads, default=None, help="a config as JSON (default: the stored one)")
    parser.add_argument("--elements-per-thread", type=float, default=None)
    parser.add_argument("--dump", default=None, help="write the disassembly here")
    opts = parser.parse_args()

    import helion_ops.kernels  # noqa: F401 - registers the ops
    from helion_ops.core import get_kernel

    op = get_kernel(opts.op)
    (args,) = op.input_generator(tokens=(opts.tokens,), hidden=(opts.hidden,), device="cpu").values()
    if opts.config:
        key, config, body = "--config", opts.config, op.raw_kernel_func
    else:
        key, config, body = _stored_config(op, args, opts.platform)
    sass, opcodes, regs = sass_report(compile_for_sm90(body, args, config))
    if opts.dump:
        with open(opts.dump, "w") as f:
            f.write(sass)
    total = sum(opcodes.values())
    print(f"{opts.op} tokens={opts.tokens} width={opts.hidden} config {key}: {json.dumps(config)}")
    print(f"sm_90: {total} instructions, {regs} registers per thread")
    if opts.elements_per_thread:
        print(f"{total / opts.elements_per_thread:.1f} instructions per element")
    print("  " + ", ".join(f"{name} {count}" for name, count in opcodes.most_common(12)))


if __name__ == "__main__":
    main()
