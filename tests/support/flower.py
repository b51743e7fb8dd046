"""`refnet flower` for a test, on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.api import clean_environment, free_port
from tests.support.processes import serving
from tests.support.workers import REFNET


@contextmanager
def flower(workdir: Path, env: dict[str, str]) -> Iterator[str]:
    """`refnet flower` on a free port; yields its /flower/ URL once it answers."""
    port = free_port()
    log = workdir / f"flower-{port}.log"
    environment = {**clean_environment(), "REFNET_DATA_DIR": str(workdir / "data"), **env}
    base = f"http://127.0.0.1:{port}/flower/"
    with serving(
        [REFNET, "flower", "--port", str(port)],
        log=log,
        ready_url=base,
        ready=lambda _: True,  # any answer: without credentials it is a 401
        env=environment,
        cwd=workdir,
    ):
        yield base
