"""The FastAPI application: `create_app()` is what `refnet serve` runs (uvicorn's factory).

Start-up builds everything a request needs once (`ApiState`), migrates the embedded database,
and installs the task dispatcher: Celery's queues with a broker, else a background thread of
this process (the embedded default), so a trigger answers at once either way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from anyio import to_thread
from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute, APIRouter

from refnet import __version__
from refnet.api.deps import no_unknown_query, required_role
from refnet.api.edge import EdgeMiddleware
from refnet.api.errors import declare, install_handlers
from refnet.api.routers import admin, auth, health, operations, papers, pipeline, queue, seeds
from refnet.api.state import ApiState
from refnet.core.config import Settings, get_settings
from refnet.core.handoff import use_dispatcher
from refnet.core.log_scrub import secrets_in
from refnet.core.logging import configure_logging
from refnet.db import migrate
from refnet.db.async_reads import ONE_PROCESS_PER_QUERY, AsyncReads
from refnet.db.session import dispose_engines, tune_engine

REQUIRED_ROLE = "x-required-role"
# Answers any route can give before or around its own code (the edge, validation, rate limits);
# 414 comes from the proxy in front (deploy/nginx), which limits the URL's length.
EDGE_ANSWERS = (400, 413, 414, 422, 429)
EXPOSED_HEADERS = [
    "ETag",
    "Location",
    "Retry-After",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "X-Request-ID",
]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    state = ApiState.build(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(
            level=settings.log_level, fmt=settings.log_format, secrets=secrets_in(settings)
        )
        # Few threads, each with its own pooled connection: more only queue on the two cores
        # and the database. No pre-ping: after a database restart the first request on each
        # stale connection gets a 503 (Retry-After) and the pool reconnects.
        connections = settings.db.api_connections
        to_thread.current_default_thread_limiter().total_tokens = connections
        postgres = state.database_url.startswith("postgresql")
        tune_engine(
            state.database_url,
            **settings.db.api_engine_options(),
            pool_pre_ping=False,
            connect_args={
                "options": ONE_PROCESS_PER_QUERY,
                "connect_timeout": settings.db.connect_timeout,
            }
            if postgres
            else {},
        )
        if settings.is_embedded:
            migrate.upgrade(state.database_url)
        if postgres:
            state.async_reads = AsyncReads(
                state.database_url, size=connections, connect_timeout=settings.db.connect_timeout
            )
        previous = use_dispatcher(_dispatcher_for(state))
        try:
            yield
        finally:
            if state.async_reads is not None:
                await state.async_reads.close()
            if state.response_cache is not None:
                await state.response_cache.close()
            if state.background is not None:
                state.background.close()
            use_dispatcher(previous)
            dispose_engines()

    app = FastAPI(
        title="RefNet",
        version=__version__,
        description="The citation network around research papers: browse, search, crawl.",
        lifespan=lifespan,
        dependencies=[Depends(no_unknown_query)],
        redoc_url=None,
    )
    app.state.refnet = state
    install_handlers(app)
    for module in (health, auth, operations, pipeline, papers, queue, seeds, admin):
        _document_required_roles(module.router)
        app.include_router(module.router)
    if settings.api.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.api.cors_origins),
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "If-None-Match", "X-Request-ID"],
            expose_headers=EXPOSED_HEADERS,
            max_age=600,
        )
    app.add_middleware(
        EdgeMiddleware,
        trusted_hosts=settings.api.trusted_hosts,
        trusted_proxies=settings.api.trusted_proxies,
        max_body_bytes=settings.api.max_body_bytes,
    )
    _declare_edge_answers(app)
    return app


def _dispatcher_for(state: ApiState) -> Any:
    from refnet.worker.celery_app import make_celery
    from refnet.worker.dispatch import CeleryDispatcher

    celery = make_celery(state.settings)
    if state.settings.broker_url:
        from refnet.worker.status import QueueInspector

        state.inspector = QueueInspector(celery)
        return CeleryDispatcher(celery)
    from refnet.worker.background import BackgroundDispatcher

    state.background = BackgroundDispatcher(celery)
    return state.background


def _document_required_roles(router: APIRouter) -> None:
    """Each operation that needs a token names, in /openapi.json, the least role that may use
    it (`x-required-role`; every higher role may too)."""
    for route in router.routes:
        if isinstance(route, APIRoute) and (role := required_role(route.dependant)) is not None:
            route.openapi_extra = {**(route.openapi_extra or {}), REQUIRED_ROLE: role.value}


def _declare_edge_answers(app: FastAPI) -> None:
    """Every operation in /openapi.json lists the answers the edge can give it."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            edge = {str(status): spec for status, spec in declare(*EDGE_ANSWERS).items()}
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    responses = operation.setdefault("responses", {})
                    for status, spec in edge.items():
                        if status not in responses:
                            responses[status] = {
                                "description": spec["description"],
                                "content": {
                                    "application/json": {
                                        "schema": {"$ref": "#/components/schemas/ErrorBody"}
                                    }
                                },
                            }
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
