"""Fixtures for every kernels test: GPU-marked tests skipped without CUDA, a
fixed seed per test, and (interpreter only) a correct float32 -> fp8 e4m3 cast.

Triton 3.9's interpreter rounds two down-casts wrongly (both checked against
PyTorch on this machine):

- float -> float8e4nv: a mantissa that rounds up past 0b111 does not carry
  into the exponent, so 124.3 becomes 64 instead of 128 (the value halves);
- float32 -> bfloat16 (``x.to(torch.bfloat16)`` in a kernel): truncated
  (round toward zero) instead of rounded to nearest even, as the GPU does
  (``cvt.rn.bf16.f32``); about half of all values end one ulp low. Harmless
  for a final output within tolerance, but silu_and_mul_fp8_quant rounds its
  activation to bf16 *before* taking the row's amax: truncation moves the
  scale by an ulp and shifts several percent of the fp8 codes.

``_interpreter_rounding`` replaces these conversions with PyTorch's (round to
nearest even; fp8 saturated at +-448 like the GPU's ``cvt.rn.satfinite``);
everything else a kernel does (loads, reductions, clamp, stores) still runs in
the interpreter as generated. So the CPU tests check the kernels' logic with
the GPU's rounding; the GPU's own casts are checked by the GPU-marked tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch

_FP8_MAX = 448.0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _seeded() -> None:
    # Each test draws the same inputs whatever ran before it.
    torch.manual_seed(0)


def _torch_rounding_conversion(original: Any) -> Any:
    """The interpreter's ``_convert_float`` with the down-casts to float8e4nv and
    to bfloat16 rounded to nearest even by PyTorch; every other one unchanged."""
    import triton.language as tl
    from triton._C.libtriton import ir

    sources = {tl.float32: (np.int32, torch.float32), tl.float16: (np.int16, torch.float16)}
    sources[tl.bfloat16] = (np.int16, torch.bfloat16)
    targets = {tl.float8e4nv: (torch.float8_e4m3fn, np.uint8), tl.bfloat16: (torch.bfloat16, np.uint16)}
    # The interpreter passes no rounding mode (None) for float32 -> bfloat16,
    # where a GPU kernel rounds to nearest even.
    nearest = (None, ir.ROUNDING_MODE.RTNE)

    def convert(input: Any, input_dtype: Any, output_dtype: Any, rounding_mode: Any) -> Any:
        if output_dtype not in targets or input_dtype not in sources or input_dtype == output_dtype:
            return original(input, input_dtype, output_dtype, rounding_mode)
        if rounding_mode not in nearest:
            return original(input, input_dtype, output_dtype, rounding_mode)
        int_dtype, float_dtype = sources[input_dtype]
        torch_target, np_target = targets[output_dtype]
        bits = np.frombuffer(input.tobytes(), dtype=int_dtype).reshape(input.shape).copy()
        values = torch.from_numpy(bits).view(float_dtype).float()
        if output_dtype == tl.float8e4nv:
            values = values.clamp(-_FP8_MAX, _FP8_MAX)
        return values.to(torch_target).view(torch.int16 if np_target is np.uint16 else torch.uint8).numpy().view(np_target)

    return convert


@pytest.fixture(autouse=True)
def _interpreter_rounding(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from helion_ops.core import interpreter_active

    if interpreter_active():
        import triton.runtime.interpreter as interpreter

        monkeypatch.setattr(interpreter, "_convert_float", _torch_rounding_conversion(interpreter._convert_float))
    yield


# Run in a fresh interpreter with no GPU visible and TRITON_INTERPRET unset:
# importing an op module and using its reference, input generator and input
# check must need neither a GPU nor Triton's interpreter. The input check runs
# to its end or to the one error it owes these inputs: CPU tensors that the
# kernel could only run in the interpreter.
_IMPORT_PROBE = r"""
import importlib, json, sys, torch
from helion_ops.core import InputValidationError
report = {"cuda_available": torch.cuda.is_available()}
for name in sys.argv[1:]:
    try:
        module = importlib.import_module("helion_ops.kernels._" + name)
        inputs = getattr(module, name + "_inputs")(tokens=(2,), hidden=(256,), dtype=torch.float32, device="cpu")
        (args,) = inputs.values()
        validators = [getattr(module, n) for n in dir(module) if "validate" in n and callable(getattr(module, n))]
        for validate in validators:
            try:
                validate(*args)
            except InputValidationError as exc:
                if "TRITON_INTERPRET=1" not in str(exc):
                    raise
        getattr(module, name + "_reference")(*args)
        report[name] = {"ok": True, "validators": sorted(v.__name__ for v in validators), "keys": list(inputs)}
    except Exception as exc:
        report[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
print(json.dumps(report))
"""


@pytest.fixture(scope="session")
def import_without_gpu_report() -> dict[str, Any]:
    """What importing each op module reported in a process without GPU or interpreter (one run per session)."""
    from _checks import OP_NAMES

    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["CUDA_VISIBLE_DEVICES"] = ""
    done = subprocess.run(
        [sys.executable, "-c", _IMPORT_PROBE, *OP_NAMES], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])
