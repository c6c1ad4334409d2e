"""helion_ops.kernels: LLM inference ops written in Helion, with references and tuned configs."""

from __future__ import annotations

from .rms_norm import rms_norm, rms_norm_inputs, rms_norm_reference

__all__ = ["rms_norm", "rms_norm_inputs", "rms_norm_reference"]
