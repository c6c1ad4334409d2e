"""What this torch and helion offer, probed once and kept in a frozen record."""

from __future__ import annotations

import dataclasses
import functools

import torch

from . import _compat


@dataclasses.dataclass(frozen=True)
class Capabilities:
    """What the running torch/helion pair can do, each field probed.

    ``hop_tracing``: Dynamo can trace a registered wrapper into Helion's
    ``helion_kernel_wrapper_mutation`` HOP.
    ``hop_inductor_lowering``: Inductor can lower that HOP (Helion's own Triton
    template lowering; CUDA tensors only).
    ``hop_inductor_fusion``: that lowering can also fuse neighbouring ops.
    ``custom_op``: the ``torch.library`` fallback is available (always, on the
    supported torch versions; kept so the record says so).
    ``size1_guard``: helion reuses a size-1 specialisation for larger sizes,
    so the bridge adds a size bucket to the kernel key (None: not probed,
    because helion is missing).
    """

    torch_version: str
    helion_version: str | None
    triton_version: str | None
    helion_importable: bool
    hop_tracing: bool
    hop_inductor_lowering: bool
    hop_inductor_fusion: bool
    custom_op: bool
    size1_guard: bool | None
    notes: tuple[str, ...] = ()

    def __str__(self) -> str:
        rows = [(f.name, getattr(self, f.name)) for f in dataclasses.fields(self) if f.name != "notes"]
        width = max(len(name) for name, _ in rows)
        lines = [f"{name:<{width}}  {value}" for name, value in rows]
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)

    def as_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


@functools.cache
def capabilities() -> Capabilities:
    """Probe (once per process) and return the capabilities record."""
    notes: list[str] = []
    try:
        _compat.helion_module()
        helion_ok = True
    except _compat.HelionUnavailableError as exc:
        helion_ok = False
        notes.append(str(exc))
    hop = helion_ok and _compat.hop_modules() is not None
    if helion_ok and not hop:
        notes.append(f"HOP tracing unavailable: {_compat.hop_unavailable_reason()}")
    lowering = hop and _compat.inductor_hop_lowering()
    if hop and not lowering:
        notes.append("Inductor cannot lower Helion's HOP here; auto mode uses the custom op")
    size1: bool | None = None
    if helion_ok:
        size1 = _compat.size1_specialisation_reused()
        if size1 and _compat.size1_guard_forced_off():
            notes.append("size-1 guard needed but forced off (set_size1_guard_forced_off)")
    return Capabilities(
        torch_version=torch.__version__,
        helion_version=_compat.distribution_version("helion"),
        triton_version=_compat.distribution_version("triton"),
        helion_importable=helion_ok,
        hop_tracing=hop,
        hop_inductor_lowering=lowering,
        hop_inductor_fusion=lowering and _compat.inductor_hop_fusion(),
        custom_op=hasattr(torch.library, "register_fake"),
        size1_guard=size1,
        notes=tuple(notes),
    )
