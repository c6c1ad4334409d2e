"""Which bridge the tests exercise: the installed one, or (for the vendoring
check) a copy under another name named by ``HELION_OPS_BRIDGE_MODULE``."""

from __future__ import annotations

import importlib
import os
from types import ModuleType

BRIDGE_MODULE = os.environ.get("HELION_OPS_BRIDGE_MODULE", "helion_ops.dynamo_bridge")


def load_bridge() -> ModuleType:
    return importlib.import_module(BRIDGE_MODULE)
