"""Fixtures shared by the core tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from helion_ops.core import CONFIG_DIR_ENV_VAR, MISSING_CONFIG_ENV_VAR, _registry, set_missing_config_policy


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(MISSING_CONFIG_ENV_VAR, raising=False)
    monkeypatch.delenv(CONFIG_DIR_ENV_VAR, raising=False)
    set_missing_config_policy(None)
    yield
    set_missing_config_policy(None)


@pytest.fixture
def names() -> Iterator[list[str]]:
    """Op names to unregister after the test."""
    created: list[str] = []
    yield created
    for name in created:
        _registry.unregister(name)
