"""Write Helion's default config as the default entry ({} key) of every
shipped op on this GPU's platform into $HELION_OPS_CONFIG_DIR, for GPU runs
made before any tuned config exists (the eager fast path builds plans only
for stored configs). The default config comes from binding the op to one
shape of its input generator (hidden 4096, 8 tokens)."""
import importlib
import json
import os
from pathlib import Path

import torch

from helion_ops.core import ConfigEntry, ConfigStore, current_platform, get_kernel

OPS = ["rms_norm", "fused_add_rms_norm", "silu_and_mul", "silu_and_mul_fp8_quant", "per_token_group_fp8_quant", "rotary_embedding"]

for _op in OPS:
    importlib.import_module(f"helion_ops.kernels._{_op}")
store = ConfigStore([Path(os.environ["HELION_OPS_CONFIG_DIR"])])
for op in OPS:
    wrapper = get_kernel(op)
    args = next(iter(wrapper.input_generator(tokens=(8,), hidden=(4096,), device="cuda" if torch.cuda.is_available() else "cpu").values()))
    config = json.loads(wrapper.kernel.bind(tuple(args)).config_spec.default_config().to_json())
    print(store.write(op, current_platform(), [ConfigEntry({}, config)]), config)
