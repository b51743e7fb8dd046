"""Administration: users and their roles, and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BeforeValidator
from starlette.concurrency import run_in_threadpool

from refnet.api.deps import actor_of, api_state, require
from refnet.api.errors import declare
from refnet.api.schemas import (
    AuditEventOut,
    AuditPageOut,
    PasswordBody,
    UserCreateBody,
    UserOut,
    UserPatchBody,
)
from refnet.core.errors import InvalidInput
from refnet.db.queries.audit import AuditFilter, list_events
from refnet.db.session import read_scope
from refnet.security import accounts
from refnet.security.roles import Role
from refnet.security.tokens import Claims

router = APIRouter(tags=["admin"])


def _a_moment(value: object) -> object:
    """A time is written as ISO 8601; a bare number would be read as Unix time, silently."""
    if isinstance(value, str) and value.strip().lstrip("+-").replace(".", "", 1).isdigit():
        raise ValueError("write the time as ISO 8601, e.g. 2026-12-01T08:00:00Z")
    return value


Moment = Annotated[
    datetime | None,
    BeforeValidator(_a_moment),
    Query(description="ISO 8601, e.g. 2026-12-01T08:00:00Z"),
]
Admin = Annotated[Claims, Depends(require(Role.ADMIN))]
UserId = Annotated[int, Path(ge=1, le=2**62)]
CHANGES = declare(401, 403, 404, 409, 422, 429)


def _role(value: str) -> Role:
    return Role.parse(value)


def _out(user: accounts.UserView) -> UserOut:
    return UserOut.model_validate(user, from_attributes=True)


@router.get("/api/users", response_model=list[UserOut], responses=declare(401, 403, 422, 429))
async def list_users(request: Request, _: Admin) -> list[UserOut]:
    """Every user, disabled ones included."""
    users = await run_in_threadpool(
        accounts.list_users, database_url=api_state(request).database_url
    )
    return [_out(user) for user in users]


@router.post("/api/users", status_code=201, response_model=UserOut, responses=CHANGES)
async def create_user(body: UserCreateBody, request: Request, claims: Admin) -> UserOut:
    """A new user with a role; the password must meet the policy."""
    user = await run_in_threadpool(
        accounts.create_user,
        database_url=api_state(request).database_url,
        username=body.username,
        password=body.password,
        role=_role(body.role),
        actor=actor_of(request, claims),
    )
    return _out(user)


@router.get("/api/users/{user_id}", response_model=UserOut, responses=CHANGES)
async def get_user(user_id: UserId, request: Request, _: Admin) -> UserOut:
    user = await run_in_threadpool(
        accounts.get_user, database_url=api_state(request).database_url, user_id=user_id
    )
    return _out(user)


@router.patch("/api/users/{user_id}", response_model=UserOut, responses=CHANGES)
async def change_user(
    user_id: UserId, body: UserPatchBody, request: Request, claims: Admin
) -> UserOut:
    """Change a user's role, or disable or enable them (their sessions end either way)."""
    if body.role is None and body.disabled is None:
        raise InvalidInput("give role, disabled, or both")
    url = api_state(request).database_url
    actor = actor_of(request, claims)
    user = await run_in_threadpool(accounts.get_user, database_url=url, user_id=user_id)
    if body.role is not None:
        user = await run_in_threadpool(
            accounts.set_role, database_url=url, user_id=user_id, role=_role(body.role), actor=actor
        )
    if body.disabled is not None:
        user = await run_in_threadpool(
            accounts.set_disabled,
            database_url=url,
            user_id=user_id,
            disabled=body.disabled,
            actor=actor,
        )
    return _out(user)


@router.put("/api/users/{user_id}/password", response_model=UserOut, responses=CHANGES)
async def reset_password(
    user_id: UserId, body: PasswordBody, request: Request, claims: Admin
) -> UserOut:
    """Set a new password; the user's sessions end."""
    user = await run_in_threadpool(
        accounts.reset_password,
        database_url=api_state(request).database_url,
        user_id=user_id,
        password=body.password,
        actor=actor_of(request, claims),
    )
    return _out(user)


@router.get("/api/audit", response_model=AuditPageOut, responses=declare(401, 403, 422, 429))
def audit(
    request: Request,
    _: Admin,
    username: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    since: Moment = None,
    until: Moment = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> AuditPageOut:
    """Audit events, newest first, filtered by user, action and time."""
    filters = AuditFilter(username=username, action=action, since=since, until=until)
    with read_scope(api_state(request).database_url) as session:
        total, events = list_events(session=session, filters=filters, limit=limit, offset=offset)
    items = [AuditEventOut.model_validate(event, from_attributes=True) for event in events]
    return AuditPageOut(total=total, items=items)
