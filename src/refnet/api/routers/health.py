"""Public probes: liveness, readiness, and metrics for the scraper."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from refnet.api.deps import api_state, client_ip
from refnet.api.edge import in_networks
from refnet.api.errors import ApiError, declare
from refnet.api.schemas import HealthOut, ReadyOut
from refnet.core.metrics import render
from refnet.ops.health import readiness

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthOut)
async def health() -> HealthOut:
    """The process is up and answering; checks nothing else."""
    return HealthOut(status="ok")


@router.get(
    "/ready",
    response_model=ReadyOut,
    responses={503: {"model": ReadyOut, "description": "A part is down; `checks` names it."}},
)
async def ready(request: Request) -> JSONResponse:
    """The database is reachable at the current schema, and Redis and the broker where used."""
    checks = await run_in_threadpool(readiness, api_state(request).settings)
    failing = [check for check in checks if not check.ok]
    body = ReadyOut(
        status="ready" if not failing else "unavailable: " + ", ".join(c.part for c in failing),
        checks={check.part: check.detail for check in checks},
    )
    return JSONResponse(body.model_dump(), status_code=503 if failing else 200)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {}}, "description": "Prometheus text format."},
        **declare(403),
    },
)
async def metrics(request: Request) -> Response:
    """Prometheus metrics; only for addresses in API__METRICS_NETWORKS."""
    if not in_networks(client_ip(request), api_state(request).metrics_networks):
        raise ApiError(403, "metrics are only served to the monitoring network")
    collectors = api_state(request).metrics_collectors()
    payload, content_type = await run_in_threadpool(render, collectors)
    return Response(payload, media_type=content_type)
