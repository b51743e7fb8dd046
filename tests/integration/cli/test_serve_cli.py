"""`refnet serve` refuses to start on a configuration that would be unsafe, with a message."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.api import clean_environment
from tests.support.workers import REFNET


@pytest.mark.parametrize(
    ("secret", "says"),
    [(None, "JWT_SECRET is not set"), ("changeme", "JWT_SECRET is a placeholder")],
)
def test_production_without_a_real_jwt_secret_does_not_start(
    tmp_path: Path, secret: str | None, says: str
) -> None:
    env = {**clean_environment(), "ENVIRONMENT": "production", "REFNET_DATA_DIR": str(tmp_path)}
    if secret is not None:
        env["JWT_SECRET"] = secret
    result = subprocess.run(
        [REFNET, "serve", "--port", "1"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode == 2, output
    assert says in output
    assert "Traceback" not in output
    assert not (tmp_path / "refnet.sqlite3").exists()  # nothing was started or migrated
