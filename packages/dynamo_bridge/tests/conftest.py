"""Bridge tests run against the installed bridge or, for the vendoring check,
against a copy under another name: ``HELION_OPS_BRIDGE_MODULE`` names it."""

from __future__ import annotations

import importlib
import os

import pytest

BRIDGE_MODULE = os.environ.get("HELION_OPS_BRIDGE_MODULE", "helion_ops.dynamo_bridge")


def load_bridge():
    return importlib.import_module(BRIDGE_MODULE)


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
