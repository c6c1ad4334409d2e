"""Every config the package ships for a GPU is one its kernel accepts.

The shipped files are tuned on GPUs this CI does not have, against the
kernels as they were then; a kernel changed since (a load added, say) can
refuse a stored field, such as a ``load_eviction_policies`` list of the old
length, and that would surface only on a GPU, at the first call of that
shape. Helion's ``normalize`` needs no GPU: each entry is checked against the
kernel bound to CPU tensors of its key's width. ``normalize`` takes a per-load
or per-memory-op list of any length (helion 1.5: a list one load short
passes and marks the wrong loads), so the lists' lengths are checked against
the kernel's default config here (at run time core drops such a list with a
warning; shipped, it would be a config nobody measured).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import helion
import pytest
import torch
from _checks import OP_NAMES, op_module, op_wrapper

from helion_ops.core._configured import stale_list_fields

GPU_PLATFORMS = ("nvidia_h100", "nvidia_h200")
# Enough tokens for every stored rows-per-program (at most 16) to be valid.
TOKENS = 64
WIDTH_FIELDS = ("hidden", "intermediate")


def _entries(op_name: str, platform: str) -> list[dict[str, Any]]:
    path = Path(op_module(op_name).CONFIG_DIR) / op_name / f"{platform}.json"
    return json.loads(path.read_text()) if path.exists() else []


def _width(op_name: str, key: dict[str, Any]) -> int:
    widths = [int(key[f]) for f in WIDTH_FIELDS if f in key]
    if widths:
        return widths[0]
    # The default entry ({}): the generator's first width.
    module = op_module(op_name)
    return int((getattr(module, "HIDDEN_SIZES", None) or module.INTERMEDIATE_SIZES)[0])


@pytest.mark.parametrize("platform", GPU_PLATFORMS)
@pytest.mark.parametrize("op_name", OP_NAMES)
def test_every_shipped_gpu_config_is_accepted_by_its_kernel(op_name: str, platform: str) -> None:
    entries = _entries(op_name, platform)
    assert entries, f"{op_name}: no {platform} configs shipped"
    wrapper = op_wrapper(op_name)
    generator = getattr(op_module(op_name), f"{op_name}_inputs")
    bound: dict[tuple[int, str | None], Any] = {}
    for entry in entries:
        width, variant = _width(op_name, entry["key"]), entry.get("variant")
        # The kernel the entry is for: the op's own function, or the variant it names.
        assert variant is None or variant in wrapper.variants, (op_name, platform, entry["key"], variant)
        if (width, variant) not in bound:
            (args,) = generator(tokens=(TOKENS,), hidden=(width,), dtype=torch.bfloat16, device="cpu").values()
            fn = wrapper.raw_kernel_func if variant is None else wrapper.variants[variant]
            bound[width, variant] = helion.kernel(fn, static_shapes=False).bind(args)
        spec = bound[width, variant].config_spec
        try:
            spec.normalize(helion.Config(**entry["config"]))
        except Exception as exc:  # noqa: BLE001 - named in the failure
            pytest.fail(f"{op_name} {platform} {entry['key']}: the kernel refuses {entry['config']}: {exc}")
        stale = stale_list_fields(entry["config"], spec.default_config().config)
        assert stale == {}, (op_name, platform, entry["key"])


def test_a_stale_eviction_list_is_caught() -> None:
    """What the length check guards against: helion's normalize takes a
    policy list one load short; the check names it."""
    op_name = "fused_add_rms_norm"
    wrapper = op_wrapper(op_name)
    (args,) = op_module(op_name).fused_add_rms_norm_inputs(
        tokens=(TOKENS,), hidden=(4096,), dtype=torch.bfloat16, device="cpu"
    ).values()
    spec = helion.kernel(wrapper.raw_kernel_func, static_shapes=False).bind(args).config_spec
    loads = len(spec.default_config().config["load_eviction_policies"])
    stale = {"block_sizes": [1], "num_warps": 8, "load_eviction_policies": ["last"] * (loads - 1)}
    spec.normalize(helion.Config(**stale))  # accepted as it is
    assert stale_list_fields(stale, spec.default_config().config) == {
        "load_eviction_policies": f"load_eviction_policies: {loads - 1} stored, {loads} in the kernel"
    }
