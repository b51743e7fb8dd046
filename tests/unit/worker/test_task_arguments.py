"""A task refuses malformed arguments before it touches anything, and a failure is told in words."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from celery import Celery
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded

from refnet.core.config import Settings
from refnet.core.errors import InvalidInput, PermanentError, TransientError
from refnet.worker.celery_app import make_celery
from refnet.worker.failures import describe

CRAWL_SEEDS = "refnet.crawler.crawl_seeds"
SUMMARIZE_PAPERS = "refnet.summarizer.summarize_papers"
SUMMARIZE_PENDING = "refnet.summarizer.summarize_pending"
GENERATE_VAULT = "refnet.generator.generate_vault"


@pytest.fixture(scope="module")
def app() -> Celery:
    return make_celery(Settings(redis_url="redis://127.0.0.1:6379/15"))


def refusal(app: Celery, task: str, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(InvalidInput) as refused:
        app.tasks[task].check_arguments(args, kwargs)
    message = str(refused.value)
    assert message.startswith(f"malformed arguments for {task}: ")
    return message


def test_an_argument_of_the_wrong_type_is_refused_by_name(app: Celery) -> None:
    message = refusal(app, CRAWL_SEEDS, job_id="abc")
    assert "job_id" in message
    assert "integer" in message


def test_types_are_not_coerced(app: Celery) -> None:
    """A message written by hand with "5" for 5, or True for an id, is a mistake to report."""
    assert "job_id" in refusal(app, CRAWL_SEEDS, job_id="5")
    assert "job_id" in refusal(app, CRAWL_SEEDS, job_id=True)
    assert "batch" in refusal(app, SUMMARIZE_PENDING, batch="5")


def test_a_missing_argument_is_refused(app: Celery) -> None:
    assert "missing a required argument: 'job_id'" in refusal(app, CRAWL_SEEDS)


def test_an_unexpected_keyword_is_refused(app: Celery) -> None:
    message = refusal(app, CRAWL_SEEDS, job_id=1, seeds=["ARXIV:2005.11401"])
    assert "unexpected keyword argument 'seeds'" in message


def test_too_many_positional_arguments_are_refused(app: Celery) -> None:
    assert "too many positional arguments" in refusal(app, CRAWL_SEEDS, 1, 2)


def test_correct_calls_pass(app: Celery) -> None:
    app.tasks[CRAWL_SEEDS].check_arguments((), {"job_id": 7})
    app.tasks[CRAWL_SEEDS].check_arguments((7,), {})
    app.tasks[SUMMARIZE_PAPERS].check_arguments((), {"paper_ids": [1, 2, 3]})
    app.tasks[SUMMARIZE_PAPERS].check_arguments((), {"paper_ids": [], "request_id": None})
    app.tasks[SUMMARIZE_PENDING].check_arguments((), {})
    app.tasks[SUMMARIZE_PENDING].check_arguments((), {"batch": None})
    app.tasks[GENERATE_VAULT].check_arguments((), {"full": True, "request_id": 3})


def test_a_list_holding_a_string_is_refused_naming_the_item(app: Celery) -> None:
    message = refusal(app, SUMMARIZE_PAPERS, paper_ids=[1, "2", 3])
    assert "paper_ids.1" in message
    assert "paper_ids" in refusal(app, SUMMARIZE_PAPERS, paper_ids="1,2")


def test_every_problem_is_named_at_once(app: Celery) -> None:
    message = refusal(app, SUMMARIZE_PAPERS, paper_ids=["a"], request_id="b")
    assert "paper_ids.0" in message
    assert "request_id" in message


def test_a_task_run_in_process_refuses_bad_arguments_before_running() -> None:
    """The embedded default runs tasks here: a bad call fails at once, naming the argument."""
    embedded = make_celery(Settings())
    with pytest.raises(InvalidInput, match="request_id"):
        embedded.tasks[GENERATE_VAULT].delay(request_id="latest")


def test_a_transient_error_that_outlasted_its_retries() -> None:
    reason = describe(TransientError("Semantic Scholar answered 429"), retries=8)
    assert reason == "gave up after 8 retries: Semantic Scholar answered 429"


def test_a_database_error_gives_the_first_line_of_the_database_message() -> None:
    engine = sa.create_engine("postgresql+psycopg://refnet@127.0.0.1:1/refnet")
    with pytest.raises(sa.exc.OperationalError) as failed:
        engine.connect()
    engine.dispose()
    reason = describe(failed.value, retries=0)
    assert reason.startswith("OperationalError: connection failed:")
    assert "Connection refused" in reason
    # No second line ("Is the server running…"), no SQLAlchemy prefix or link.
    assert "\n" not in reason
    assert "psycopg" not in reason
    assert "sqlalche.me" not in reason


def test_a_failed_statement_is_told_without_its_sql() -> None:
    engine = sa.create_engine("sqlite://")
    with pytest.raises(sa.exc.OperationalError) as failed, engine.connect() as connection:
        connection.execute(sa.text("SELECT * FROM papers_missing"))
    engine.dispose()
    assert describe(failed.value, retries=0) == "OperationalError: no such table: papers_missing"


def test_a_plain_exception_gives_its_type_and_first_line() -> None:
    assert describe(ValueError("bad cursor\nat offset 3"), retries=0) == "ValueError: bad cursor"
    assert describe(KeyError(), retries=2) == "KeyError"
    assert describe(PermanentError("paper 5 has no title"), retries=0) == (
        "PermanentError: paper 5 has no title"
    )


def test_a_time_limit_is_told_as_such() -> None:
    assert describe(TimeLimitExceeded(300), retries=0).startswith("ran past its time limit")
    assert describe(SoftTimeLimitExceeded(), retries=0).startswith("ran past its time limit")
