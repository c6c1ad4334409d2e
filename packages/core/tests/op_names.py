"""Unique op names for the core tests (a module of its own, not conftest:
several test folders run in one pytest process, each with a conftest)."""

from __future__ import annotations

import uuid


def unique(prefix: str) -> str:
    """An op name no other test uses (custom ops cannot be redefined in torch)."""
    return f"{prefix}_{uuid.uuid4().hex}"
