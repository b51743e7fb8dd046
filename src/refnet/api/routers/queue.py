"""Queue depth and live workers per queue."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from refnet.api.deps import api_state, require
from refnet.api.errors import declare
from refnet.api.schemas import QueueOut, QueueStatusOut
from refnet.security.roles import Role

router = APIRouter(tags=["pipeline"], dependencies=[Depends(require(Role.READER))])


@router.get("/api/queue/status", response_model=QueueStatusOut, responses=declare(401, 403, 429))
async def queue_status(request: Request) -> QueueStatusOut:
    """Tasks waiting per queue and the workers consuming each (in-process when embedded)."""
    state = api_state(request)
    if state.inspector is None:
        depth = state.background.depth if state.background is not None else 0
        return QueueStatusOut(
            mode="embedded", queues=[QueueOut(name="in-process", depth=depth, workers=1)]
        )
    reports = await run_in_threadpool(state.inspector.status)
    return QueueStatusOut(
        mode="workers",
        queues=[QueueOut(name=r.name, depth=r.depth, workers=r.workers) for r in reports],
    )
