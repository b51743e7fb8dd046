"""Dependencies routes declare: who is asking (token, role, rate limit), what they may send."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from fastapi import Depends, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from refnet.api.errors import ApiError, unauthorized
from refnet.api.state import ApiState
from refnet.security.accounts import Actor
from refnet.security.audit import record_alone
from refnet.security.roles import Role
from refnet.security.tokens import Claims, TokenError

bearer = HTTPBearer(auto_error=False, description="An access token from POST /auth/login.")
READ_METHODS = frozenset({"GET", "HEAD"})


def api_state(request: Request) -> ApiState:
    state: ApiState = request.app.state.refnet
    return state


def client_ip(request: Request) -> str | None:
    address: str | None = request.scope.get("refnet.client_ip")
    return address


def request_id(request: Request) -> str | None:
    value: str | None = request.scope.get("refnet.request_id")
    return value


async def current_claims(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
) -> Claims:
    """The caller's verified claims; 401 without a valid access token."""
    state = api_state(request)
    if credentials is None:
        await _limit_anonymous(request)
        raise unauthorized("sign in first: send `Authorization: Bearer <access token>`")
    sessions = state.sessions
    # Decoding on the event loop is cheaper than a thread; the database is asked only when the
    # shared session cache cannot vouch for the session.
    try:
        decoded = sessions.keyring.decode_access(credentials.credentials)
    except TokenError:
        await _limit_anonymous(request)
        raise
    claims = None
    if state.session_lookup is not None:
        cached = await state.session_lookup.get(decoded.session_id)
        claims = sessions.from_cache(decoded, cached)
    if claims is None:
        claims = await run_in_threadpool(sessions.confirm, decoded)
    request.scope["refnet.user_id"] = claims.user_id
    structlog.contextvars.bind_contextvars(user_id=claims.user_id)
    return claims


async def _limit_anonymous(request: Request) -> None:
    """Requests without a valid token count against their client address."""
    category = "read" if request.method in READ_METHODS else "write"
    key = f"client:{client_ip(request) or 'unknown'}"
    await api_state(request).rate_limits.enforce(category, key)


def require(role: Role, category: str | None = None) -> Callable[..., Awaitable[Claims]]:
    """A valid access token with `role` (or a higher one), within the caller's rate limit.

    `category` defaults to `read` for GET and `write` for everything else."""

    async def dependency(
        request: Request, response: Response, claims: Claims = Depends(current_claims)
    ) -> Claims:
        if not claims.role.includes(role):
            raise ApiError(403, f"this needs the {role} role; your role is {claims.role}")
        chosen = category or ("read" if request.method in READ_METHODS else "write")
        headers = await api_state(request).rate_limits.enforce(chosen, f"user:{claims.user_id}")
        response.headers.update(headers)
        return claims

    dependency.required_role = role  # type: ignore[attr-defined]
    return dependency


def required_role(dependant: Dependant) -> Role | None:
    """The role an operation needs: the highest any `require` in its
    dependencies names, reader where it only needs a signed-in user, None when it is public."""
    found: list[Role] = []
    pending = [dependant]
    while pending:
        current = pending.pop()
        role = getattr(current.call, "required_role", None)
        if role is not None:
            found.append(role)
        elif current.call is current_claims:
            found.append(Role.READER)
        pending.extend(current.dependencies)
    return max(found, key=lambda role: role.rank) if found else None


async def limit_by_client(request: Request, response: Response) -> None:
    """The `login` limit, per client address (the caller is not known yet)."""
    key = f"client:{client_ip(request) or 'unknown'}"
    response.headers.update(await api_state(request).rate_limits.enforce("login", key))


async def no_unknown_query(request: Request) -> None:
    """422 for query parameters the route does not take, and for NUL characters in any."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    allowed = _query_names(route)
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        accepted = ", ".join(sorted(allowed)) or "none"
        raise ApiError(
            422, f"unknown query parameter {', '.join(unknown)}; this route accepts: {accepted}"
        )
    for name, value in request.query_params.multi_items():
        if "\x00" in value:
            raise ApiError(422, f"query parameter {name} contains a NUL character")


_QUERY_NAMES: dict[int, frozenset[str]] = {}


def _query_names(route: APIRoute) -> frozenset[str]:
    known = _QUERY_NAMES.get(id(route))
    if known is not None:
        return known
    names: set[str] = set()
    pending = [route.dependant]
    while pending:
        dependant = pending.pop()
        names.update(param.alias for param in dependant.query_params)
        pending.extend(dependant.dependencies)
    known = _QUERY_NAMES[id(route)] = frozenset(names)
    return known


def actor_of(request: Request, claims: Claims) -> Actor:
    """Who did it, for the audit log."""
    return Actor(
        user_id=claims.user_id,
        username=claims.username,
        client_ip=client_ip(request),
        request_id=request_id(request),
    )


async def audited(
    request: Request, claims: Claims, action: str, details: dict[str, object]
) -> None:
    """Record that the caller did `action`, successfully, in the audit log."""
    await run_in_threadpool(
        record_alone,
        api_state(request).database_url,
        action=action,
        outcome="success",
        actor=actor_of(request, claims),
        details=details,
    )
