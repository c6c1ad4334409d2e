"""Helion kernels shared by the core tests (module-level functions: Helion
refuses closures), with their pure-PyTorch references."""

from __future__ import annotations

import helion.language as hl
import torch


def scale_rows(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for rows in hl.tile(x.size(0)):
        out[rows, :] = x[rows, :] * w[None, :]
    return out


def scale_rows_ref(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return x * w[None, :]
