"""The stack tests' shared fixtures: a Docker engine with the air-gapped images, the synthetic
network behind the fake Semantic Scholar, and the stack itself (one per test module)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.s2_graph import SyntheticGraph, make_graph
from tests.support.compose import build_airgap_images, docker_engine
from tests.support.stack import Stack, running_stack


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with docker_engine(tmp_path_factory.mktemp("docker-config")) as env:
        build_airgap_images(env, tmp_path_factory.mktemp("build") / "build.log")
        yield env


@pytest.fixture(scope="module")
def graph() -> SyntheticGraph:
    return make_graph(300, seed=11)


@pytest.fixture(scope="module")
def stack(
    request: pytest.FixtureRequest,
    engine: dict[str, str],
    graph: SyntheticGraph,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    """The stack, with the Compose files a module names in EXTRA_COMPOSE_FILES given last."""
    extra = getattr(request.module, "EXTRA_COMPOSE_FILES", ())
    with running_stack(engine, graph, tmp_path_factory.mktemp("stack"), extra) as deployed:
        yield deployed
