"""The ceiling of the API load benchmark: a bare FastAPI app with one route returning a constant.

Served by uvicorn exactly as `api_throughput` serves RefNet (same worker count, uvloop,
httptools) and loaded the same way with wrk, it measures what the framework, the server and the
load generator cost on this machine, with nothing of RefNet's. An `async` route: no thread pool,
no middleware, no database.
"""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
CONSTANT = {"status": "ok", "service": "ceiling"}


@app.get("/ceiling")
async def ceiling() -> dict[str, str]:
    return CONSTANT
