from __future__ import annotations

import importlib
import os

import pytest
from bridge_under_test import BRIDGE_MODULE, load_bridge

# HELION_OPS_SIZE1_GUARD=off switches the bridge's size-1 guard off for the
# whole run, to show what it prevents: test_size1_guard's correctness tests
# then fail where helion needs the guard (helion 1.1-1.4).
if os.environ.get("HELION_OPS_SIZE1_GUARD", "on") == "off":
    importlib.import_module(BRIDGE_MODULE + "._compat").set_size1_guard_forced_off(True)


@pytest.fixture(scope="session")
def bridge():
    return load_bridge()


@pytest.fixture(autouse=True)
def _fresh_dynamo(bridge):
    import torch

    torch._dynamo.reset()
    bridge.set_mode(None)
    yield
    bridge.set_mode(None)
    torch._dynamo.reset()
