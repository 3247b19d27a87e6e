"""Fixtures for federation tests: pairs of federating homeservers on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.federation.harness import FederatedHomeserver, federated_homeservers


@pytest.fixture
async def federated_pair(tmp_path: Path) -> AsyncIterator[list[FederatedHomeserver]]:
    """Two in-process homeservers, ``127.0.0.1:<port>`` each, federating over plain HTTP."""
    async with federated_homeservers(tmp_path, 2) as servers:
        yield servers
