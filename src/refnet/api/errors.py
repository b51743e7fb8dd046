"""Every error leaves as the same JSON body, with a status a client can act on.

`{"error": "not_found", "message": "no stored paper matches DOI:10.1/x", "request_id": "…"}`:
`error` is a stable code for programs, `message` says what was wrong and what is accepted.
Messages never echo what a client sent in a secret field (validation messages name the field and
the rule, never the value).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from refnet.core.errors import Conflict, InvalidInput, NotFound, TransientError
from refnet.security.sessions import LockedOut, LoginRefused
from refnet.security.tokens import TokenError

log = structlog.get_logger(__name__)

BEARER_CHALLENGE = 'Bearer realm="refnet"'
_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "body_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


class ErrorBody(BaseModel):
    error: str
    message: str
    request_id: str | None = None


class ApiError(Exception):
    """An answer other than success, raised anywhere below a route."""

    def __init__(
        self, status: int, message: str, *, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


def unauthorized(message: str) -> ApiError:
    return ApiError(
        401, message, headers={"WWW-Authenticate": f'{BEARER_CHALLENGE}, error="invalid_token"'}
    )


def error_body(status: int, message: str, request_id: str | None) -> dict[str, Any]:
    code = _STATUS_CODES.get(status, "error")
    return ErrorBody(error=code, message=message, request_id=request_id).model_dump()


def error_response(
    request: Request, status: int, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    body = error_body(status, message, request.scope.get("refnet.request_id"))
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


def describe_validation(errors: Sequence[Any]) -> str:
    """`body.username: Field required; query.limit: Input should be less than or equal to 100`."""
    parts = []
    for error in errors[:10]:
        location = ".".join(str(part) for part in error.get("loc", ()))
        message = str(error.get("msg", "invalid"))
        if error.get("type") == "json_invalid":
            message = "the body is not valid JSON"
        parts.append(f"{location}: {message}" if location else message)
    return "; ".join(parts) or "the request is invalid"


def install_handlers(app: FastAPI) -> None:
    async def api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return error_response(request, exc.status, exc.message, exc.headers)

    async def validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return error_response(request, 422, describe_validation(exc.errors()))

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        status = 422 if exc.status_code == 400 else exc.status_code  # FastAPI's body-parse 400
        message = str(exc.detail) if status != 404 else f"no route {request.url.path}"
        if status == 405:
            message = f"{request.method} is not allowed on {request.url.path}"
        return error_response(request, status, message, exc.headers)

    async def invalid_input(request: Request, exc: Exception) -> JSONResponse:
        return error_response(request, 422, str(exc))

    async def not_found(request: Request, exc: Exception) -> JSONResponse:
        return error_response(request, 404, str(exc))

    async def conflict(request: Request, exc: Exception) -> JSONResponse:
        return error_response(request, 409, str(exc))

    async def token_error(request: Request, exc: Exception) -> JSONResponse:
        error = unauthorized(str(exc))
        return error_response(request, 401, error.message, error.headers)

    async def login_refused(request: Request, exc: Exception) -> JSONResponse:
        return error_response(request, 401, str(exc), {"WWW-Authenticate": BEARER_CHALLENGE})

    async def locked_out(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, LockedOut)
        retry = str(max(1, round(exc.retry_after)))
        return error_response(request, 429, str(exc), {"Retry-After": retry})

    async def transient(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, TransientError)
        log.warning("request_unavailable", reason=str(exc))
        retry = str(max(1, round(exc.retry_after or 5)))
        return error_response(request, 503, f"{exc}; try again shortly", {"Retry-After": retry})

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(InvalidInput, invalid_input)
    app.add_exception_handler(NotFound, not_found)
    app.add_exception_handler(Conflict, conflict)
    app.add_exception_handler(TokenError, token_error)
    app.add_exception_handler(LoginRefused, login_refused)
    app.add_exception_handler(LockedOut, locked_out)
    app.add_exception_handler(TransientError, transient)


def declare(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for a route: each status it can answer with, as an ErrorBody."""
    json_body = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    return {
        status: {
            "model": ErrorBody,
            "description": _STATUS_CODES.get(status, "error"),
            "content": json_body,  # errors are JSON even where success is Markdown
        }
        for status in statuses
    }
