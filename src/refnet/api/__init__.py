"""The HTTP API: FastAPI application, middleware, dependencies and routers."""
