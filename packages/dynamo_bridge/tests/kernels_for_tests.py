"""Small Helion kernels for the bridge tests (module level: Helion refuses closures).

Run in Triton's interpreter on CPU (TRITON_INTERPRET=1) with fixed configs.
Loop variables have names no module-level variable uses (Helion refuses a
kernel whose device-loop variable shadows a module global).
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch

_CFG = helion.Config(block_sizes=[4], num_warps=4)


def _scale_rows(x: torch.Tensor, alpha: float) -> torch.Tensor:
    out = torch.empty_like(x)
    for rows in hl.tile(x.size(0)):
        out[rows, :] = x[rows, :] * alpha
    return out


def _add_into(x: torch.Tensor, acc: torch.Tensor) -> None:
    for rows in hl.tile(x.size(0)):
        acc[rows, :] = acc[rows, :] + x[rows, :]


def _sum_and_diff(a: torch.Tensor, b: torch.Tensor, alpha: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    total = torch.empty_like(a)
    diff = torch.empty_like(a)
    for rows in hl.tile(a.size(0)):
        total[rows, :] = a[rows, :] + b[rows, :] * alpha
        diff[rows, :] = a[rows, :] - b[rows, :] * alpha
    return total, diff


def _sum_list(xs: list[torch.Tensor]) -> torch.Tensor:
    out = torch.empty_like(xs[0])
    for rows in hl.tile(out.size(0)):
        out[rows, :] = xs[0][rows, :] + xs[1][rows, :]
    return out


def make(fn, **settings):
    return helion.kernel(fn, static_shapes=False, config=_CFG, **settings)


def _add_one_through_view(x: torch.Tensor) -> None:
    # Writes x through a view taken by the host code: helion <= 1.4's HOP does
    # not see this as a mutation of x.
    flat = x.view(x.size(0) * x.size(1))
    for chunk in hl.tile(flat.size(0)):
        flat[chunk] = flat[chunk] + 1


def _group_sums(x: torch.Tensor, group: int) -> torch.Tensor:
    """Sums of each run of ``group`` columns, over a flat list of groups (the
    shape of per_token_group_fp8_quant): ``n // group`` is what equal sizes break."""
    m, n = x.size()
    groups = n // group
    flat = x.reshape(m * groups, group)
    out = torch.empty([m * groups], dtype=x.dtype, device=x.device)
    for chunk in hl.tile(m * groups):
        out[chunk] = flat[chunk, :].sum(-1)
    return out.view(m, groups)
