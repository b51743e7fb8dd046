"""The sample network in each database, and a vault folder for it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.generator.sample import Network, build


@pytest.fixture
def network(database_url: str) -> Network:
    return build(database_url)


@pytest.fixture
def vault_dir(tmp_path: Path) -> Path:
    return tmp_path / "vault"  # beside, not around, the SQLite file
