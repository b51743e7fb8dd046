"""`refnet probe api|worker|beat`: liveness checks for container health checks.

Each exits 0 when the process answers, 1 when it does not (one line on stderr saying why), 2 when
the probe itself is misconfigured. They use the standard library's HTTP client, so an image needs
no curl, and they touch neither the database nor the vault.
"""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from typing import NoReturn

import typer

from refnet.cli.common import EXIT_FAILED, EXIT_USAGE, app, load_settings
from refnet.worker.queues import QueueName

probe_app = typer.Typer(
    help="Liveness probes for container health checks (exit 0 alive, 1 not).",
    no_args_is_help=True,
)
app.add_typer(probe_app, name="probe")


def _fail(what: str, reason: str, code: int = EXIT_FAILED) -> NoReturn:
    typer.echo(f"{what} probe failed: {reason}", err=True)
    raise typer.Exit(code)


def _fetch(what: str, url: str, timeout: float) -> bytes:
    """The body of a 200 answer to GET `url`, or the probe fails saying why."""
    if not url.startswith(("http://", "https://")):
        _fail(what, f"--url must be an http:// or https:// URL, not {url!r}", EXIT_USAGE)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            body: bytes = answer.read()
            return body
    except urllib.error.HTTPError as exc:
        _fail(what, f"{url} answered status {exc.code}")
    except urllib.error.URLError as exc:
        _fail(what, f"{url}: {_reason(exc.reason)}")
    except TimeoutError:
        _fail(what, f"{url} did not answer within {timeout:g} s")
    except (OSError, ValueError) as exc:  # a reset connection, a malformed answer or URL
        _fail(what, f"{url}: {exc}")


def _reason(reason: object) -> str:
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, TimeoutError):
        return "no answer in time"
    if isinstance(reason, socket.gaierror):
        return f"unknown host ({reason.strerror})"
    return str(reason)


@probe_app.command("api")
def probe_api(
    url: str = typer.Option("http://127.0.0.1:8000/health", help="The API's liveness URL."),
    timeout: float = typer.Option(3.0, min=0.1, help="Seconds to wait for the answer."),
) -> None:
    """The API process answers its liveness route with 200."""
    _fetch("api", url, timeout)


@probe_app.command("worker")
def probe_worker(
    queue: QueueName = typer.Option(..., "--queue", "-Q", help="The queue the worker serves."),
    timeout: float = typer.Option(5.0, min=0.1, help="Seconds to wait for its answer."),
) -> None:
    """This host's worker of QUEUE (`refnet worker --queue QUEUE`) answers a ping."""
    settings = load_settings()
    if settings.broker_url is None:
        _fail(
            "worker",
            "no broker to reach the worker by: set REDIS_URL or CELERY_BROKER_URL",
            EXIT_USAGE,
        )
    from kombu.exceptions import OperationalError

    from refnet.worker import app as celery_app

    node = f"{queue.value}@{socket.gethostname()}"
    try:
        with celery_app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=timeout)
            replies = celery_app.control.ping(
                destination=[node], timeout=timeout, connection=connection
            )
    except (OperationalError, OSError) as exc:
        _fail("worker", f"cannot reach the broker: {exc}")
    if not any(node in reply for reply in replies):
        _fail("worker", f"{node} did not answer a ping within {timeout:g} s")


@probe_app.command("beat")
def probe_beat(
    url: str = typer.Option("http://127.0.0.1:9809/metrics", help="Beat's metrics URL."),
    max_age: float = typer.Option(
        600.0, "--max-age", min=1, help="Seconds since the last scheduler tick still alive."
    ),
    timeout: float = typer.Option(3.0, min=0.1, help="Seconds to wait for the answer."),
) -> None:
    """Beat's scheduler ticked within MAX_AGE seconds (refnet_beat_tick_timestamp_seconds)."""
    from refnet.core.metrics import BEAT_TICK_NAME

    body = _fetch("beat", url, timeout)
    try:
        tick = _last_tick(body)
    except ValueError:
        _fail("beat", f"{url} does not answer in the Prometheus text format")
    if tick is None:
        _fail("beat", f"{url} publishes no {BEAT_TICK_NAME}")
    age = time.time() - tick
    if age > max_age:
        _fail("beat", f"the scheduler last ticked {age:.0f} s ago (more than {max_age:g} s)")


def _last_tick(exposition: bytes) -> float | None:
    """The newest value of the tick gauge in a Prometheus text exposition, if it has one (several
    with one sample per process); ValueError when the text is not an exposition."""
    from prometheus_client.parser import text_string_to_metric_families

    from refnet.core.metrics import BEAT_TICK_NAME

    samples = [
        sample.value
        for family in text_string_to_metric_families(exposition.decode("utf-8", "replace"))
        for sample in family.samples
        if sample.name == BEAT_TICK_NAME
    ]
    return max(samples, default=None)
