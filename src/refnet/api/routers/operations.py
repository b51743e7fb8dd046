"""Unattended operation, for operators: tasks that failed for good, and the beat schedule's
last runs."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from refnet.api.deps import api_state, require
from refnet.api.errors import declare
from refnet.db.queries import operations
from refnet.db.session import read_scope
from refnet.security.roles import Role

router = APIRouter(tags=["operations"])


class FailedTaskOut(BaseModel):
    id: int = Field(description="Give it to `refnet tasks retry ID`.")
    task_id: str
    task_name: str
    queue: str | None
    arguments: dict[str, Any]
    error_type: str
    reason: str = Field(description="What went wrong, in words.")
    retries: int
    status: str = Field(description="failed (waiting for a person) or retried.")
    failed_at: datetime
    retried_at: datetime | None


class ScheduleRunOut(BaseModel):
    entry: str
    task_name: str
    fired_count: int
    completed_count: int
    last_fired_at: datetime | None
    last_started_at: datetime | None
    last_finished_at: datetime | None
    last_outcome: str | None = Field(description="running, ok or failed.")
    last_detail: str | None


@router.get(
    "/api/tasks/failed",
    response_model=list[FailedTaskOut],
    responses=declare(401, 403, 422, 429),
    dependencies=[Depends(require(Role.OPERATOR))],
)
def failed_tasks(
    request: Request,
    include_retried: Annotated[bool, Query(alias="all")] = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[FailedTaskOut]:
    """Tasks that failed for good (newest first), with the reason; `all=true` adds those
    already re-driven."""
    with read_scope(api_state(request).database_url) as session:
        found = operations.list_failures(
            session=session, include_retried=include_retried, limit=limit
        )
    return [
        FailedTaskOut.model_validate({**asdict(failure), "arguments": failure.kwargs})
        for failure in found
    ]


@router.get(
    "/api/schedule",
    response_model=list[ScheduleRunOut],
    responses=declare(401, 403, 422, 429),
    dependencies=[Depends(require(Role.OPERATOR))],
)
def schedule_runs(request: Request) -> list[ScheduleRunOut]:
    """Each beat entry's last run: when it fired, how it ended."""
    with read_scope(api_state(request).database_url) as session:
        runs = operations.list_schedule_runs(session=session)
    return [ScheduleRunOut.model_validate(run, from_attributes=True) for run in runs]
