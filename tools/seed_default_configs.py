"""Write a default-config entry ({} key, Helion's default config) for every
shipped op on this GPU's platform into $HELION_OPS_CONFIG_DIR, for GPU runs
made before any tuned config exists (the eager fast path builds plans only
for stored configs)."""
import os
from pathlib import Path

from helion_ops.core import ConfigEntry, ConfigStore, current_platform

OPS = ["rms_norm", "fused_add_rms_norm", "silu_and_mul", "silu_and_mul_fp8_quant", "per_token_group_fp8_quant", "rotary_embedding"]
store = ConfigStore([Path(os.environ["HELION_OPS_CONFIG_DIR"])])
for op in OPS:
    print(store.write(op, current_platform(), [ConfigEntry({}, {})]))
