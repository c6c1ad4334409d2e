from __future__ import annotations

import pytest
from bridge_under_test import load_bridge


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
