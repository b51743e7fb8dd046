"""`DB__API_CONNECTIONS` sizes each API process: its request threads, their connection pool and
the pool of its async reads; many more concurrent requests than connections are all served."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from refnet.security.roles import Role
from tests.integration.api.conftest import API_PG_URL, API_REDIS_URL
from tests.support.api import RAG_S2, ApiServer, api_server


def pool_sizes(metrics: str) -> dict[str, float]:
    found = re.findall(r'refnet_db_pool_size_connections\{pool="(\w+)"\} (\S+)', metrics)
    return {pool: float(value) for pool, value in found}


def test_the_api_sizes_its_pools_from_the_settings(tmp_path: Path, stack_api: ApiServer) -> None:
    env = {
        "DATABASE_URL": API_PG_URL,
        "REDIS_URL": API_REDIS_URL,
        "DB__API_CONNECTIONS": "2",
        "API__RESPONSE_CACHE_SECONDS": "0",  # every request reaches the database
    }
    with api_server(tmp_path, env) as server:
        token = server.token(Role.READER)
        paper = f"/api/papers/{RAG_S2}"
        paths = [paper, f"{paper}/graph", f"{paper}/references", "/api/papers/search?q=retrieval"]

        def get(path: str) -> int:
            with server.client(token) as client:
                return client.get(path).status_code

        with ThreadPoolExecutor(max_workers=24) as pool:
            statuses = list(pool.map(get, paths * 25))
        metrics = httpx.get(server.base_url + "/metrics").text

    assert statuses == [200] * 100
    assert pool_sizes(metrics) == {"api_reads": 2.0, "sqlalchemy": 3.0}
