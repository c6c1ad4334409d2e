"""``helion-ops doctor``: what this machine runs and what it lacks.

Versions, the bridge's capabilities, the GPU and its canonical platform, and
per op: the config keys stored for this platform, the generator's shapes that
have no config of their own (each key computed through the op's selector on
meta tensors), the missing-config policy in force, and warnings that say what
to do.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import platform as _platform_module
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from ._coverage import CoverageUnavailable, KeyMatch, ShapeCoverage, generator_coverage
from ._policy import MISSING_CONFIG_ENV_VAR, MissingConfigPolicy, missing_config_policy
from ._provenance import provenance_mismatches
from ._shapes import matching_names, parse_fields
from ._variants import variant_label

if TYPE_CHECKING:
    from ._wrapper import HelionKernelWrapper

MAX_LISTED = 12  # shapes named in full per op; the rest are counted


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _indent(text: str, by: str = "  ") -> str:
    return "\n".join(by + line for line in text.splitlines())


def environment_warnings(on_gpu: bool, interpreter: bool) -> list[str]:
    warnings: list[str] = []
    if not on_gpu and not interpreter:
        warnings.append(
            "no CUDA GPU and TRITON_INTERPRET is not 1: kernels cannot run here; "
            "set TRITON_INTERPRET=1 to run them in Triton's CPU interpreter, or use a GPU machine"
        )
    if on_gpu and interpreter:
        warnings.append("TRITON_INTERPRET=1 on a GPU machine: kernels run in the slow CPU interpreter; unset it")
    return warnings


def policy_effect(policy: MissingConfigPolicy) -> str:
    return {
        MissingConfigPolicy.ERROR: "calls raise MissingConfigError",
        MissingConfigPolicy.DEFAULT: "calls run Helion's default config (untuned)",
        MissingConfigPolicy.REFERENCE: "calls run the pure-PyTorch reference",
    }[policy]


def op_report(wrapper: HelionKernelWrapper) -> tuple[list[str], list[str]]:
    """Lines describing the op, and warnings with what to do."""
    name = wrapper.op_name
    configured = wrapper.configured
    keys = sorted(configured.entries)
    policy = wrapper.policy
    lines = [
        f"{name}  ({wrapper.module})",
        f"  selection          {'keys ' + ', '.join(wrapper.keys) if wrapper.keys else 'config_picker' if wrapper.config_picker else 'default entry only'}",
        f"  platform           {configured.platform}: {len(keys)} config entr{'y' if len(keys) == 1 else 'ies'}",
        f"  platforms w/ files {', '.join(configured.platforms_with_configs) or 'none'}",
        f"  missing config     policy {policy.value}: {policy_effect(policy)}",
    ]
    if wrapper.variants:
        lines.append(f"  variants           {_variant_counts(wrapper)}")
    if keys:
        wrapped = _wrap_keys(keys).splitlines()
        lines.append(f"  keys               {wrapped[0]}")
        lines += [" " * 21 + more for more in wrapped[1:]]
    warnings: list[str] = []
    if not keys:
        warnings.append(
            f"{name}: no configs for platform {configured.platform!r}, so {policy_effect(policy)}; "
            f"run `helion-ops autotune {name}` on this GPU"
            + ("" if policy is not MissingConfigPolicy.ERROR else f" or set {MISSING_CONFIG_ENV_VAR}=default")
        )
    try:
        coverage = generator_coverage(wrapper)
    except CoverageUnavailable as exc:
        lines.append(f"  generator shapes   not checked: {exc}")
    except Exception as exc:  # a selector failing on a generator shape is itself worth reporting
        lines.append(f"  generator shapes   not checked: {type(exc).__name__}: {exc}")
        warnings.append(f"{name}: computing config keys for the generator's shapes failed: {exc}")
    else:
        lines += coverage_lines(coverage)
        uncovered = [c for c in coverage if c.match is not KeyMatch.EXACT]
        if uncovered and keys:
            specs = shape_specs([c.shape for c in uncovered], [c.shape for c in coverage])
            shapes = f" --shapes {' '.join(specs)}" if specs else ""
            warnings.append(
                f"{name}: {len(uncovered)} of {len(coverage)} generator shapes have no exact config on "
                f"{configured.platform!r}; tune them with `helion-ops autotune {name}{shapes}`"
            )
    warnings += [f"{name}: {w}" for w in _provenance_warnings(wrapper)]
    return lines, warnings


def _variant_counts(wrapper: HelionKernelWrapper) -> str:
    """Each kernel of the op with how many of the platform's entries run it."""
    entries = wrapper.configured.entries.values()
    names = [None, *wrapper.variants]
    return ", ".join(f"{variant_label(n)} {sum(e.variant == n for e in entries)} entries" for n in names)


def shape_specs(chosen: Sequence[str], names: Sequence[str]) -> list[str]:
    """``--shapes`` specs selecting exactly ``chosen`` among ``names``: none
    when that is all of them, one field's values where that suffices
    ("numtokens=8 numtokens=64" for those token counts at every width), else
    every shape by name."""
    wanted = set(chosen)
    if wanted == set(names):
        return []
    fields: dict[str, list[str]] = {}
    for shape in chosen:
        for field, value in parse_fields(shape).items():
            values = fields.setdefault(field, [])
            if value not in values:
                values.append(value)
    for field, values in fields.items():
        specs = [f"{field}={value}" for value in values]
        if set(matching_names("", names, specs)) == wanted:
            return specs
    return list(chosen)


def _wrap_keys(keys: Sequence[str], width: int = 96) -> str:
    out, line = [], ""
    for key in keys:
        piece = key if not line else f"; {key}"
        if line and len(line) + len(piece) > width:
            out.append(line)
            piece = key
            line = ""
        line += piece
    out.append(line)
    return "\n".join(out)


def coverage_lines(coverage: Sequence[ShapeCoverage]) -> list[str]:
    counts = {m: sum(c.match is m for c in coverage) for m in KeyMatch}
    summary = ", ".join(f"{n} {m.value}" for m, n in counts.items() if n)
    lines = [f"  generator shapes   {len(coverage)}: {summary or 'none'}"]
    missing = [c for c in coverage if c.match is not KeyMatch.EXACT]
    for c in missing[:MAX_LISTED]:
        lines.append(f"    {c.shape:40s} -> {c.selected_key} ({c.match.value})")
    if len(missing) > MAX_LISTED:
        lines.append(f"    ... and {len(missing) - MAX_LISTED} more")
    return lines


def _provenance_warnings(wrapper: HelionKernelWrapper) -> list[str]:
    try:
        return provenance_mismatches(wrapper)
    except Exception as exc:  # a check that cannot run says so instead of hiding the report
        return [f"config provenance could not be checked ({type(exc).__name__}: {exc})"]


def run_doctor(wrappers: Sequence[HelionKernelWrapper]) -> int:
    from helion_ops import dynamo_bridge

    from ._platform import current_platform

    on_gpu = torch.cuda.is_available()
    interpreter = os.environ.get("TRITON_INTERPRET") == "1"
    caps = dynamo_bridge.capabilities()
    print("versions")
    print(f"  python             {_platform_module.python_version()}")
    print(f"  torch              {torch.__version__} (CUDA {torch.version.cuda or 'none: CPU-only build'})")
    print(f"  triton             {caps.triton_version or 'not installed'}")
    print(f"  helion             {caps.helion_version or 'not installed'}")
    for dist in ("helion-ops-dynamo-bridge", "helion-ops-core", "helion-ops-kernels"):
        print(f"  {dist:18s} {_version(dist)}")
    print("\nbridge capabilities")
    print(_indent(str(caps)))
    print("\nmachine")
    print(f"  gpu                {torch.cuda.get_device_name() if on_gpu else 'none'}")
    print(f"  platform           {current_platform()}")
    print(f"  TRITON_INTERPRET   {os.environ.get('TRITON_INTERPRET', 'unset')}")
    print(f"  dynamo mode        {dynamo_bridge.get_mode().value}")
    print(f"  missing config     {missing_config_policy().value} (process default; ops may set their own)")
    warnings = environment_warnings(on_gpu, interpreter)
    warnings += [f"bridge: {note}" for note in caps.notes]
    print(f"\nops ({len(wrappers)})")
    if not wrappers:
        warnings.append(
            "no ops registered: install helion-ops-kernels (or a package with the helion_ops.kernels entry point)"
        )
    for wrapper in wrappers:
        lines, op_warnings = op_report(wrapper)
        print("\n".join(lines))
        warnings += op_warnings
    print(f"\nwarnings ({len(warnings)})")
    for w in warnings:
        print(f"  - {w}")
    if not warnings:
        print("  none")
    return 0
