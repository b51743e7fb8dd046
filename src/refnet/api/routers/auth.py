"""Sign-in, token refresh, sign-out, and who am I."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from refnet.api.deps import api_state, client_ip, limit_by_client, request_id, require
from refnet.api.errors import declare
from refnet.api.schemas import LoginBody, LogoutBody, MeOut, RefreshBody, TokenPairOut
from refnet.security.roles import Role
from refnet.security.tokens import Claims

router = APIRouter(prefix="/auth", tags=["auth"])
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@router.post(
    "/login",
    response_model=TokenPairOut,
    responses=declare(401, 422, 429, 503),
    dependencies=[Depends(limit_by_client)],
)
async def login(body: LoginBody, request: Request, response: Response) -> TokenPairOut:
    """An access token (15 minutes) and a refresh token (7 days) for a username and password."""
    pair = await run_in_threadpool(
        api_state(request).sessions.login,
        username=body.username,
        password=body.password,
        client_ip=client_ip(request),
        request_id=request_id(request),
    )
    response.headers.update(NO_STORE)
    return TokenPairOut(**vars(pair))


@router.post(
    "/refresh",
    response_model=TokenPairOut,
    responses=declare(401, 422, 429, 503),
    dependencies=[Depends(limit_by_client)],
)
async def refresh(body: RefreshBody, request: Request, response: Response) -> TokenPairOut:
    """A new token pair for a refresh token, which is used up (each works once)."""
    pair = await run_in_threadpool(
        api_state(request).sessions.refresh,
        refresh_token=body.refresh_token,
        client_ip=client_ip(request),
        request_id=request_id(request),
    )
    response.headers.update(NO_STORE)
    return TokenPairOut(**vars(pair))


@router.post("/logout", status_code=204, responses=declare(401, 422, 429))
async def logout(
    request: Request,
    body: LogoutBody | None = None,
    claims: Claims = Depends(require(Role.READER)),
) -> Response:
    """End the session: its refresh tokens and the access token used stop working."""
    await run_in_threadpool(
        api_state(request).sessions.logout,
        claims=claims,
        refresh_token=body.refresh_token if body else None,
        client_ip=client_ip(request),
        request_id=request_id(request),
    )
    return Response(status_code=204)


@router.get("/me", response_model=MeOut, responses=declare(401, 429))
async def me(claims: Claims = Depends(require(Role.READER))) -> MeOut:
    """The signed-in user, as the access token and the database know them."""
    return MeOut(
        id=claims.user_id,
        username=claims.username,
        role=str(claims.role),
        access_expires_at=claims.expires_at,
    )
