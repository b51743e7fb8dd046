"""RefNet's Grafana dashboards as code: one module per dashboard, written with
grafana-foundation-sdk. `generate_dashboards.py` renders them into `../dashboards/`."""

from __future__ import annotations

from collections.abc import Callable

from grafana_foundation_sdk.models.dashboard import Dashboard

from . import api, celery, pipeline, system

DASHBOARDS: list[Callable[[], Dashboard]] = [api.build, celery.build, pipeline.build, system.build]
