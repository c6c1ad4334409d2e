"""helion_ops.kernels: LLM inference ops written in Helion, with references and tuned configs.

Importing the package registers every op (one module each): this is what the
``helion_ops.kernels`` entry point loads, so ``helion-ops list`` and
``helion-ops demo`` find all of them. Per op, the public names are the op
itself, ``<op>_reference`` (pure PyTorch) and ``<op>_inputs`` (named shapes).

The op modules are private (``_<op>.py``) because the package exports each op
under its own name: a public submodule ``<op>`` would be shadowed by that
export, and Helion's generated code reads a kernel's module globals through
``import <kernel module> as _source_module``, which Python resolves by
attribute from the package, so it would get the op instead of the module
(``'HelionKernelWrapper' object has no attribute 'FP8_MAX'``).
"""

from __future__ import annotations

from ._fused_add_rms_norm import fused_add_rms_norm, fused_add_rms_norm_inputs, fused_add_rms_norm_reference
from ._per_token_group_fp8_quant import (
    per_token_group_fp8_quant,
    per_token_group_fp8_quant_inputs,
    per_token_group_fp8_quant_reference,
)
from ._rms_norm import rms_norm, rms_norm_inputs, rms_norm_reference
from ._rotary_embedding import rotary_embedding, rotary_embedding_inputs, rotary_embedding_reference
from ._silu_and_mul import silu_and_mul, silu_and_mul_inputs, silu_and_mul_reference
from ._silu_and_mul_fp8_quant import (
    silu_and_mul_fp8_quant,
    silu_and_mul_fp8_quant_inputs,
    silu_and_mul_fp8_quant_reference,
)

# The ops, in the order the command lists them.
OPS = (
    "rms_norm",
    "fused_add_rms_norm",
    "silu_and_mul",
    "silu_and_mul_fp8_quant",
    "per_token_group_fp8_quant",
    "rotary_embedding",
)

__all__ = [
    "OPS",
    "fused_add_rms_norm",
    "fused_add_rms_norm_inputs",
    "fused_add_rms_norm_reference",
    "per_token_group_fp8_quant",
    "per_token_group_fp8_quant_inputs",
    "per_token_group_fp8_quant_reference",
    "rms_norm",
    "rms_norm_inputs",
    "rms_norm_reference",
    "rotary_embedding",
    "rotary_embedding_inputs",
    "rotary_embedding_reference",
    "silu_and_mul",
    "silu_and_mul_inputs",
    "silu_and_mul_reference",
    "silu_and_mul_fp8_quant",
    "silu_and_mul_fp8_quant_inputs",
    "silu_and_mul_fp8_quant_reference",
]
