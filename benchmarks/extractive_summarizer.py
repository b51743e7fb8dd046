"""Extractive summarizer throughput: pages per second on generated PDFs, and a PDF-host storm.

Generates papers with the test suite's PDF factory, then times text extraction alone (the
baseline, measured in the same run) and extraction plus the extractive summary, the whole
offline path from PDF to summary.

Then the whole summary pipeline (chunk tasks, per-paper retries, vault update) runs in-process
over papers whose PDFs a loopback host serves, once cleanly (the baseline) and once with 20% of
the hosts answering 503 to every request: every paper must end summarized (from its PDF, or after
its attempts from its abstract) and the vault must be written. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

from benchmarks.pipeline_storm import run_storm
from refnet.core.logging import configure_logging
from refnet.summarizer.extract import extract_text
from refnet.summarizer.providers.base import SummaryInput, parse_answer
from refnet.summarizer.providers.extractive import ExtractiveProvider
from tests.support.pdfs import make_paper_pdf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--papers", type=int, default=20)
    parser.add_argument("--pages", type=int, default=12)
    parser.add_argument("--storm-papers", type=int, default=60)
    parser.add_argument("--failure-rate", type=float, default=0.2)
    args = parser.parse_args()
    configure_logging(level="WARNING")  # stdout carries the one JSON line of figures

    with tempfile.TemporaryDirectory() as folder:
        paths = [
            make_paper_pdf(Path(folder) / f"{n}.pdf", pages=args.pages, seed=n).path
            for n in range(args.papers)
        ]
        started = time.perf_counter()
        texts = [extract_text(path, max_pages=args.pages + 10) for path in paths]
        extraction_s = time.perf_counter() - started
        pages = sum(text.pages for text in texts)

        provider = ExtractiveProvider()
        started = time.perf_counter()
        for path in paths:
            text = extract_text(path, max_pages=args.pages + 10)
            answer = provider.answer(
                SummaryInput(
                    title="Generated paper",
                    text=text.prioritized(60_000),
                    input_kind="pdf",
                    language="en",
                )
            )
            parse_answer(answer)
        total_s = time.perf_counter() - started

    clean = run_storm(papers=args.storm_papers, failure_rate=0.0)
    storm = run_storm(papers=args.storm_papers, failure_rate=args.failure_rate)
    print(
        json.dumps(
            {
                "benchmark": "extractive_summarizer",
                "papers": args.papers,
                "pages": pages,
                "baseline_extract_pages_per_s": round(pages / extraction_s, 1),
                "extract_and_summarize_pages_per_s": round(pages / total_s, 1),
                "summarize_share_of_time": round(1 - extraction_s / total_s, 3),
                "pipeline_clean": clean,
                f"pipeline_{round(args.failure_rate * 100)}pct_pdf_failures": storm,
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
