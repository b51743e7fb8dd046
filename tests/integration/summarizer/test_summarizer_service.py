"""Summarizing stored papers: the right text, at most one paid call per summary, clear failures."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from refnet.core.errors import TransientError
from refnet.core.records import PaperRecord
from refnet.db.base import utcnow
from refnet.db.models import SummaryStatus
from refnet.db.queries.papers import upsert_papers
from refnet.db.queries.summaries import claim_summary, papers_needing_summary
from refnet.db.session import get_engine, session_scope
from refnet.summarizer import remake
from refnet.summarizer.paper_text import PdfReading
from refnet.summarizer.pdf import PdfFetcher
from refnet.summarizer.providers.base import ProviderAnswer, SummaryInput
from refnet.summarizer.providers.extractive import ExtractiveProvider
from refnet.summarizer.providers.openai_compat import OpenAICompatibleProvider
from refnet.summarizer.service import NOTHING_TO_SUMMARIZE, RETRY, Summarizer
from tests.fakes.llm_servers import FakeOpenAI, Fault
from tests.fakes.pdf_host import FakePdfHost, pdf, status
from tests.support.pdfs import make_operator_bomb_pdf, make_paper_pdf

ABSTRACT = (
    "We study how citation networks can be summarized. Our method builds a graph of papers "
    "and ranks them by centrality. Experiments on three corpora show large gains."
)


@pytest.fixture
def llm() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key="k") as server:
        yield server


@pytest.fixture
def host() -> Iterator[FakePdfHost]:
    with FakePdfHost() as server:
        yield server


def add_paper(url: str, *, s2_id: str = "a" * 40, **fields: object) -> int:
    record = PaperRecord(s2_id=s2_id, title="Summaries of Citation Networks", complete=True)
    record = PaperRecord(**{**_fields(record), "abstract": ABSTRACT, **fields})
    with session_scope(url) as session:
        return upsert_papers(session=session, records=[record])[s2_id]


def _fields(record: PaperRecord) -> dict[str, object]:
    return {name: getattr(record, name) for name in record.__dataclass_fields__}


def summarizer(url: str, llm: FakeOpenAI, tmp_path: Path, **options: object) -> Summarizer:
    provider = OpenAICompatibleProvider(
        api_key="k", model="local-model", base_url=llm.base_url, timeout=2.0, max_retries=0
    )
    fetcher = PdfFetcher(cache_dir=tmp_path / "pdfs", allowlist=["127.0.0.0/8"], timeout=2.0)
    return Summarizer(database_url=url, provider=provider, fetcher=fetcher, **options)  # type: ignore[arg-type]


def summary_row(url: str, paper_id: int) -> dict[str, object]:
    with get_engine(url).connect() as connection:
        row = connection.execute(
            sa.text("SELECT * FROM summaries WHERE paper_id = :p"), {"p": paper_id}
        ).mappings()
        return dict(row.one())


def test_summary_is_made_from_the_pdf_text(
    database_url: str, llm: FakeOpenAI, host: FakePdfHost, tmp_path: Path
) -> None:
    made = make_paper_pdf(tmp_path / "paper.pdf", pages=3)
    url = host.route("/paper.pdf", pdf(made.path.read_bytes()))
    paper_id = add_paper(database_url, open_access_pdf_url=url)

    status = summarizer(database_url, llm, tmp_path).summarize(paper_id).status

    row = summary_row(database_url, paper_id)
    assert status == row["status"] == SummaryStatus.DONE
    assert row["input_kind"] == "pdf"
    assert row["tldr"] and row["keywords"] and row["input_tokens"]
    assert "## Introduction" in llm.last_prompt  # the extracted sections went to the model
    with get_engine(database_url).connect() as connection:
        pages = connection.scalar(sa.text("SELECT pages FROM pdf_documents"))
    assert pages == 3


def test_corrupt_pdf_falls_back_to_the_abstract_and_is_reported(
    database_url: str, llm: FakeOpenAI, host: FakePdfHost, tmp_path: Path
) -> None:
    url = host.route("/broken.pdf", pdf(b"%PDF-1.5\n" + b"\x00not really" * 50))
    paper_id = add_paper(database_url, open_access_pdf_url=url)

    summarizer(database_url, llm, tmp_path).summarize(paper_id)

    assert summary_row(database_url, paper_id)["input_kind"] == "abstract"
    with get_engine(database_url).connect() as connection:
        status, error = connection.execute(sa.text("SELECT status, error FROM pdf_documents")).one()
    assert status == "failed" and error


def test_paper_without_any_text_fails_with_a_reason(
    database_url: str, llm: FakeOpenAI, tmp_path: Path
) -> None:
    paper_id = add_paper(database_url, abstract=None)

    status = summarizer(database_url, llm, tmp_path).summarize(paper_id).status

    assert status == "failed"
    assert summary_row(database_url, paper_id)["error"] == NOTHING_TO_SUMMARIZE
    assert llm.request_count == 0


def test_a_done_summary_is_never_paid_for_again(
    database_url: str, llm: FakeOpenAI, tmp_path: Path
) -> None:
    paper_id = add_paper(database_url)
    worker = summarizer(database_url, llm, tmp_path)
    worker.summarize(paper_id)
    worker.summarize(paper_id)
    summarizer(database_url, llm, tmp_path).summarize(paper_id)
    assert llm.request_count == 1


def test_answer_stored_before_a_crash_is_parsed_not_bought_again(
    database_url: str, llm: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paper_id = add_paper(database_url)
    worker = summarizer(database_url, llm, tmp_path)

    def die(*args: object) -> str:
        raise SystemExit("worker killed after the answer arrived")

    monkeypatch.setattr(worker, "_finish", die)
    with pytest.raises(SystemExit):
        worker.summarize(paper_id)
    assert summary_row(database_url, paper_id)["status"] == SummaryStatus.ANSWERED

    status = summarizer(database_url, llm, tmp_path).summarize(paper_id).status

    assert status == SummaryStatus.DONE
    assert llm.request_count == 1


def test_llm_outage_leaves_the_summary_pending_for_a_retry(
    database_url: str, llm: FakeOpenAI, tmp_path: Path
) -> None:
    paper_id = add_paper(database_url)
    llm.persistent_fault = Fault("503")
    outcome = summarizer(database_url, llm, tmp_path).summarize(paper_id)
    assert outcome.status == RETRY and outcome.retry_in and outcome.retry_in > 0
    row = summary_row(database_url, paper_id)
    assert row["status"] == SummaryStatus.PENDING and row["error"]

    llm.persistent_fault = None
    assert summarizer(database_url, llm, tmp_path).summarize(paper_id).status == SummaryStatus.DONE


def test_an_llm_that_stays_down_fails_the_summary_after_its_attempts(
    database_url: str, llm: FakeOpenAI, tmp_path: Path
) -> None:
    paper_id = add_paper(database_url)
    llm.persistent_fault = Fault("503")
    worker = summarizer(database_url, llm, tmp_path, max_attempts=3)

    outcomes = [worker.summarize(paper_id).status for _ in range(3)]

    assert outcomes == [RETRY, RETRY, SummaryStatus.FAILED]
    assert "gave up after 3 attempts" in str(summary_row(database_url, paper_id)["error"])
    with session_scope(database_url) as session:  # the pending sweep offers it again
        assert papers_needing_summary(session=session, key=worker.key) == [paper_id]
    # … with all its attempts, not just one
    assert [worker.summarize(paper_id).status for _ in range(2)] == [RETRY, RETRY]
    llm.persistent_fault = None
    assert worker.summarize(paper_id).status == SummaryStatus.DONE


@pytest.mark.parametrize(("fault", "reason"), [("truncated", "truncat"), ("refusal", "refus")])
def test_truncated_or_refused_answers_fail_with_the_reason(
    database_url: str, llm: FakeOpenAI, tmp_path: Path, fault: str, reason: str
) -> None:
    paper_id = add_paper(database_url)
    llm.script(fault)

    assert summarizer(database_url, llm, tmp_path).summarize(paper_id).status == "failed"
    row = summary_row(database_url, paper_id)
    assert reason in str(row["error"]).lower()
    assert row["raw_response"] is not None  # what was paid for is kept

    # The paid answer is final for this summary key: reruns and sweeps do not pay again.
    assert summarizer(database_url, llm, tmp_path).summarize(paper_id).status == "failed"
    worker = summarizer(database_url, llm, tmp_path)
    with session_scope(database_url) as session:
        assert papers_needing_summary(session=session, key=worker.key) == []
    assert llm.request_count == 1


def test_a_claim_left_by_a_dead_worker_is_offered_again(
    database_url: str, llm: FakeOpenAI, tmp_path: Path
) -> None:
    paper_id = add_paper(database_url)
    worker = summarizer(database_url, llm, tmp_path)
    with session_scope(database_url) as session:
        assert claim_summary(
            session=session, paper_id=paper_id, key=worker.key, stale_before=utcnow()
        )
    with session_scope(database_url) as session:
        assert papers_needing_summary(session=session, key=worker.key) == []  # still fresh
        later = utcnow() + timedelta(hours=1)
        waiting = papers_needing_summary(session=session, key=worker.key, stale_before=later)
    assert waiting == [paper_id]

    taken_over = Summarizer(
        database_url=database_url, provider=worker.provider, stale_claim=timedelta(0)
    )
    assert taken_over.summarize(paper_id).status == SummaryStatus.DONE


def test_spent_daily_budget_defers_further_llm_work(
    database_url: str, llm: FakeOpenAI, tmp_path: Path
) -> None:
    first = add_paper(database_url, s2_id="b" * 40)
    second = add_paper(database_url, s2_id="c" * 40, doi="10.1/second")
    worker = summarizer(database_url, llm, tmp_path, daily_token_budget=1)

    assert worker.summarize(first).status == SummaryStatus.DONE
    assert worker.summarize(second).status == SummaryStatus.DEFERRED

    assert llm.request_count == 1
    assert "budget" in str(summary_row(database_url, second)["error"])


def test_extractive_summary_needs_no_network(database_url: str, tmp_path: Path) -> None:
    paper_id = add_paper(database_url)
    worker = Summarizer(database_url=database_url, provider=ExtractiveProvider())

    assert worker.summarize(paper_id).status == SummaryStatus.DONE
    row = summary_row(database_url, paper_id)
    assert row["input_kind"] == "abstract"
    assert row["provider"] == "extractive" and row["input_tokens"] == 0
    assert str(row["tldr"]).strip() and "\n" not in str(row["tldr"])


def test_a_pdf_too_demanding_to_read_costs_only_its_own_paper(
    database_url: str, llm: FakeOpenAI, host: FakePdfHost, tmp_path: Path
) -> None:
    bomb = make_operator_bomb_pdf(tmp_path / "bomb.pdf", pages=1, operators=2_000_000)
    url = host.route("/bomb.pdf", pdf(bomb.read_bytes()))
    paper_id = add_paper(database_url, open_access_pdf_url=url)
    reading = PdfReading(memory_bytes=16 * 1024 * 1024, timeout=60)

    outcome = summarizer(database_url, llm, tmp_path, reading=reading).summarize(paper_id)

    assert outcome.status == SummaryStatus.DONE
    assert summary_row(database_url, paper_id)["input_kind"] == "abstract"
    with get_engine(database_url).connect() as connection:
        status, error = connection.execute(sa.text("SELECT status, error FROM pdf_documents")).one()
    assert status == "failed" and "more than 16 MB of memory" in error


def test_a_pdf_host_down_is_retried_then_the_abstract_is_summarized(
    database_url: str, llm: FakeOpenAI, host: FakePdfHost, tmp_path: Path
) -> None:
    url = host.route("/down.pdf", status(503))
    paper_id = add_paper(database_url, open_access_pdf_url=url)
    worker = summarizer(database_url, llm, tmp_path, reading=PdfReading(attempts=3))

    outcomes = [worker.summarize(paper_id) for _ in range(3)]

    assert [o.status for o in outcomes] == [RETRY, RETRY, SummaryStatus.DONE]
    assert all(o.retry_in and o.retry_in > 0 for o in outcomes[:2])
    assert summary_row(database_url, paper_id)["input_kind"] == "abstract"
    assert llm.request_count == 1  # paid once, for the abstract
    with get_engine(database_url).connect() as connection:
        record = connection.execute(sa.text("SELECT status, attempts FROM pdf_documents")).one()
    assert tuple(record) == ("retrying", 3)


def test_a_paid_answer_survives_a_database_that_blinks_while_storing_it(
    database_url: str, llm: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paper_id = add_paper(database_url)
    worker = summarizer(database_url, llm, tmp_path)
    real = Summarizer._store_answer
    failures = iter([TransientError("database unavailable or busy: connection reset")])

    def blink_once(self: Summarizer, paper: int, answer: ProviderAnswer) -> None:
        for failure in failures:
            raise failure
        real(self, paper, answer)

    monkeypatch.setattr(Summarizer, "_store_answer", blink_once)

    assert worker.summarize(paper_id).status == SummaryStatus.DONE
    assert llm.request_count == 1


def fall_back_to_the_abstract(
    database_url: str, llm: FakeOpenAI, host: FakePdfHost, tmp_path: Path
) -> tuple[int, Summarizer]:
    url = host.route("/flaky.pdf", status(503))
    paper_id = add_paper(database_url, open_access_pdf_url=url)
    worker = summarizer(database_url, llm, tmp_path, reading=PdfReading(attempts=2))
    assert [worker.summarize(paper_id).status for _ in range(2)] == [RETRY, SummaryStatus.DONE]
    return paper_id, worker


def make_pdf_due(database_url: str) -> None:
    with get_engine(database_url).begin() as connection:
        connection.execute(
            sa.text("UPDATE pdf_documents SET retry_at = :past"),
            {"past": utcnow() - timedelta(minutes=1)},
        )


def test_a_pdf_waiting_for_its_next_try_is_left_alone_meanwhile(
    database_url: str, llm: FakeOpenAI, host: FakePdfHost, tmp_path: Path
) -> None:
    paper_id, _ = fall_back_to_the_abstract(database_url, llm, host, tmp_path)
    other_model = summarizer(database_url, llm, tmp_path, reading=PdfReading(attempts=2))
    other_model.provider.model = "another-model"  # a second summary key for the same paper

    assert other_model.summarize(paper_id).status == SummaryStatus.DONE
    assert host.requests.count("/flaky.pdf") == 2  # not asked again before its retry is due
    with get_engine(database_url).connect() as connection:
        kinds = connection.scalars(sa.text("SELECT input_kind FROM summaries")).all()
    assert kinds == ["abstract", "abstract"]


def test_a_remake_shows_the_old_summary_until_the_new_one_is_in_and_pays_once(
    database_url: str,
    llm: FakeOpenAI,
    host: FakePdfHost,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    paper_id, worker = fall_back_to_the_abstract(database_url, llm, host, tmp_path)
    made = make_paper_pdf(tmp_path / "back.pdf", pages=2)
    host.route("/flaky.pdf", pdf(made.path.read_bytes()))
    make_pdf_due(database_url)
    before = summary_row(database_url, paper_id)
    seen_while_asking: list[object] = []
    real_answer = worker.provider.answer

    def answer_then_die(item: SummaryInput) -> ProviderAnswer:
        seen_while_asking.append(summary_row(database_url, paper_id)["status"])
        return real_answer(item)

    def die(*args: object) -> None:
        raise SystemExit("worker killed after the remake was paid for")

    monkeypatch.setattr(worker.provider, "answer", answer_then_die)
    monkeypatch.setattr(remake, "_apply", die)
    with pytest.raises(SystemExit):
        worker.summarize(paper_id)
    monkeypatch.undo()

    assert seen_while_asking == ["done"]  # notes kept the old summary meanwhile
    assert summary_row(database_url, paper_id)["summary"] == before["summary"]
    paid = llm.request_count

    assert summarizer(database_url, llm, tmp_path).summarize(paper_id).status == "done"
    after = summary_row(database_url, paper_id)
    assert llm.request_count == paid  # the kept answer was parsed, not bought again
    assert after["input_kind"] == "pdf"
    assert "## Introduction" in llm.last_prompt  # the remake was asked with the PDF's text
    assert after["remake_response"] is None and after["remake_claimed_at"] is None
