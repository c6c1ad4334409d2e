"""Shared pieces of the benchmarks (pytest-benchmark).

GPU benchmarks skip without CUDA. Every benchmark imports the op's own
reference and input generator from helion_ops.kernels, so what is timed is
what the tests check.
"""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest
import torch

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def op_module(op: str) -> ModuleType:
    """The op's module ``helion_ops.kernels._<op>`` (kernel, reference, inputs, checks)."""
    return importlib.import_module(f"helion_ops.kernels._{op}")
