"""Vault generation: a 10,000-paper network written as an Obsidian vault, then kept up to date.

Inserts a synthetic crawl (10,000 collected papers, 2,000 stubs known only by reference, about
150,000 edges, a done summary for every collected paper, 5 seeds) into a fresh SQLite file, and
into PostgreSQL too when `--database-url` is given, stamped as a crawl that finished an hour
ago. Then, per database, in a fresh process (so peak RSS is the generator's, not the insert's):

- `from_scratch`: the first `generate_vault` into an empty folder (target <= 10 s);
- `baseline_incremental` and `baseline_full`: the same vault regenerated with nothing changed,
  incrementally and with `full=True` (both must write nothing);
- `title_change`: one well-connected paper's title changed, regenerated incrementally (target
  <= 1 s); `expected_notes` is that paper plus its neighbours in the vault, which is exactly
  what must be rewritten;
- `peak_rss_mb` (target <= 300 MB).

Prints one JSON line. Run with `.venv/bin/python -m benchmarks.vault_generation`.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import queue as queue_module
import random
import sys
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from benchmarks.memory import peak_rss_mb
from refnet.db import migrate
from refnet.db.base import utcnow
from refnet.db.models import (
    Author,
    Citation,
    CrawlJob,
    FrontierEntry,
    Paper,
    PaperAuthor,
    Summary,
)
from refnet.db.session import dispose_engines, get_engine


def _words(text: str) -> list[str]:
    return text.split()


WORDS = _words(
    """retrieval augmented generation dense passage sparse neural language model attention
    transformer graph network learning representation contrastive question answering knowledge
    reasoning memory efficient scalable robust multilingual vision text embedding index search
    ranking fine-tuning pretraining benchmark evaluation survey towards understanding deep"""
)
FIELDS = ("Computer Science", "Linguistics", "Mathematics", "Medicine", "Physics")
FAMILIES = _words(
    """Lewis Karpukhin Vaswani Devlin Jégou Øksendal Müller García Nguyen Smith Chen Wang Kim
    Brown Rossi Novak Tanaka Ivanova Dubois Costa"""
)
GIVEN = _words("Patrick Vladimir Ashish Jacob Hervé Bernt Anna Luis Thi John Wei Min Tom")


def _title(rng: random.Random) -> str:
    words = rng.sample(WORDS, rng.randint(4, 10))
    return " ".join(words).capitalize() + rng.choice(["", ": a survey", " (extended)", "?"])


def _abstract(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(150)).capitalize() + "."


def _rows(papers: int, stubs: int, edges_per_paper: int) -> Iterator[dict[str, list[Any]]]:
    """Chunks of rows for each table, papers oldest first, each citing older ones."""
    rng = random.Random(20240601)
    stamp = utcnow() - timedelta(hours=1)
    authors = [f"{g} {f}" for f in FAMILIES for g in GIVEN]
    yield {
        "authors": [
            {"id": i + 1, "key": f"name:{n.lower()}", "name": n} for i, n in enumerate(authors)
        ]
    }
    total = papers + stubs
    for start in range(0, total, 1000):
        chunk: dict[str, list[Any]] = {
            k: [] for k in ("papers", "paper_authors", "summaries", "edges")
        }
        for pid in range(start + 1, min(start + 1000, total) + 1):
            collected = pid <= papers
            year = 1990 + (pid * 35) // total
            chunk["papers"].append(
                {
                    "id": pid,
                    "s2_id": f"{pid:040x}",
                    "doi": f"10.5555/bench.{pid}" if pid % 3 else None,
                    "title": _title(rng),
                    "abstract": _abstract(rng) if collected else None,
                    "year": year,
                    "venue": rng.choice(["NeurIPS", "ACL", "EMNLP", "ICLR", None]),
                    "fields_of_study": rng.sample(FIELDS, rng.randint(1, 2)),
                    "citation_count": rng.randint(0, 5000),
                    "reference_count": edges_per_paper,
                    "crawl_state": "expanded" if collected else "discovered",
                    "created_at": stamp,
                    "updated_at": stamp,
                }
            )
            if not collected:
                continue
            for position, author in enumerate(rng.sample(range(1, len(authors) + 1), 3)):
                chunk["paper_authors"].append(
                    {"paper_id": pid, "position": position, "author_id": author}
                )
            chunk["summaries"].append(
                {
                    "paper_id": pid,
                    "provider": rng.choice(["anthropic", "openai", "extractive"]),
                    "model": "m",
                    "prompt_version": "v1",
                    "language": "en",
                    "status": "done",
                    "input_kind": "abstract",
                    "tldr": _title(rng),
                    "summary": _abstract(rng),
                    "key_points": [_title(rng) for _ in range(3)],
                    "keywords": rng.sample(WORDS, 4),
                    "created_at": stamp,
                    "updated_at": stamp,
                }
            )
            cited = {rng.randint(1, total) for _ in range(edges_per_paper)} - {pid}
            chunk["edges"].extend(
                {"citing_id": pid, "cited_id": c, "created_at": stamp} for c in sorted(cited)
            )
        yield chunk


def build(url: str, papers: int, stubs: int, edges_per_paper: int, seeds: int) -> None:
    migrate.upgrade(url)
    tables: dict[str, Any] = {
        "authors": Author.__table__,
        "papers": Paper.__table__,
        "paper_authors": PaperAuthor.__table__,
        "summaries": Summary.__table__,
        "edges": Citation.__table__,
    }
    engine = get_engine(url)
    edges: list[dict[str, Any]] = []  # after every paper: an edge may point forward
    with engine.begin() as connection:
        for chunk in _rows(papers, stubs, edges_per_paper):
            edges.extend(chunk.pop("edges", []))
            for name in ("authors", "papers", "paper_authors", "summaries"):
                if chunk.get(name):
                    connection.execute(sa.insert(tables[name]), chunk[name])
        for start in range(0, len(edges), 10_000):
            connection.execute(sa.insert(tables["edges"]), edges[start : start + 10_000])
        job = connection.execute(
            sa.insert(CrawlJob).returning(CrawlJob.id),
            {
                "seeds": [],
                "seed_ids": [],
                "params": {},
                "source": "bench",
                "kind": "full",
                "status": "completed",
                "papers_collected": papers,
                "papers_expanded": papers,
                "edges_stored": 0,
                "requests_made": 0,
                "created_at": utcnow(),
                "updated_at": utcnow(),
            },
        ).scalar_one()
        connection.execute(
            sa.insert(FrontierEntry),
            [
                {
                    "job_id": job,
                    "paper_id": papers - i * 7,
                    "depth": 0,
                    "score": 0.0,
                    "state": "expanded",
                    "is_seed": True,
                    "updated_at": utcnow() - timedelta(hours=1),
                }
                for i in range(seeds)
            ],
        )
        if url.startswith("postgresql"):
            for table in ("authors", "papers", "summaries", "crawl_jobs"):
                connection.execute(
                    sa.text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT coalesce(max(id), 1) FROM {table}))"
                    )
                )
            connection.execute(sa.text("ANALYZE"))
    dispose_engines()


def measure(url: str, vault_dir: str, pid: int) -> dict[str, Any]:
    """The generation phases, in this (fresh) process."""
    from refnet.core.logging import configure_logging
    from refnet.generator.service import generate_vault

    configure_logging(level="WARNING")
    figures: dict[str, Any] = {}

    def run(name: str, full: bool = False) -> None:
        report = generate_vault(database_url=url, vault_dir=Path(vault_dir), full=full)
        figures[name] = {
            "seconds": report.seconds,
            "notes_rendered": report.notes_rendered,
            "notes_written": report.notes_written,
            "other_files_written": report.other_files_written,
            "failed": len(report.notes_failed),
        }

    run("from_scratch")
    run("baseline_incremental")
    run("baseline_full", full=True)
    engine = get_engine(url)
    with engine.begin() as connection:
        pairs = connection.execute(
            sa.text("SELECT citing_id, cited_id FROM citations WHERE :p IN (citing_id, cited_id)"),
            {"p": pid},
        ).all()
        others = {a if b == pid else b for a, b in pairs}
        neighbours = connection.scalar(
            sa.select(sa.func.count())
            .select_from(Paper)
            .where(Paper.id.in_(others), Paper.crawl_state.in_(("collected", "expanded")))
        )
        connection.execute(sa.update(Paper).where(Paper.id == pid).values(title="A New Title"))
    run("title_change")
    figures["title_change"]["expected_notes"] = neighbours + 1
    figures["title_change"]["exact"] = figures["title_change"]["notes_written"] == neighbours + 1
    figures["peak_rss_mb"] = peak_rss_mb()
    dispose_engines()
    return figures


def _child(url: str, vault_dir: str, pid: int, queue: Any) -> None:
    queue.put(measure(url, vault_dir, pid))


def in_fresh_process(url: str, vault_dir: str, pid: int) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(url, vault_dir, pid, queue))
    process.start()
    try:
        result: dict[str, Any] = queue.get(timeout=900)
    except queue_module.Empty:
        process.kill()
        raise SystemExit(f"the measuring process died (exit code {process.exitcode})") from None
    process.join()
    return result


def reset_postgres(url: str) -> None:
    engine = sa.create_engine(url)
    admin = sa.create_engine(engine.url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{engine.url.database}"'))
        connection.execute(sa.text(f'CREATE DATABASE "{engine.url.database}"'))
    admin.dispose()
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--papers", type=int, default=10_000)
    parser.add_argument("--stubs", type=int, default=2_000)
    parser.add_argument("--edges-per-paper", type=int, default=15)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--database-url", help="also measure on this PostgreSQL database (reset!)")
    args = parser.parse_args()
    result: dict[str, Any] = {
        "benchmark": "vault_generation",
        "papers": args.papers,
        "stubs": args.stubs,
        "targets": {"from_scratch_s": 10, "title_change_s": 1, "peak_rss_mb": 300},
    }
    with tempfile.TemporaryDirectory(prefix="refnet-bench-") as tmp:
        databases = {"sqlite": f"sqlite:///{Path(tmp) / 'refnet.sqlite3'}"}
        if args.database_url:
            reset_postgres(args.database_url)
            databases["postgresql"] = args.database_url
        for name, url in databases.items():
            build(url, args.papers, args.stubs, args.edges_per_paper, args.seeds)
            with get_engine(url).connect() as connection:
                result["edges"] = connection.scalar(sa.text("SELECT count(*) FROM citations"))
            dispose_engines()
            middle = args.papers // 2  # cites older papers, is cited by newer ones
            result[name] = in_fresh_process(url, str(Path(tmp) / f"vault-{name}"), middle)
    print(json.dumps(result), file=sys.stdout)


if __name__ == "__main__":
    main()
