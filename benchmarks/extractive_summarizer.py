"""Extractive summarizer throughput: pages per second on generated PDFs.

Generates papers with the test suite's PDF factory, then times text extraction alone (the
baseline, measured in the same run) and extraction plus the extractive summary, the whole
offline path from PDF to summary. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

from refnet.summarizer.extract import extract_text
from refnet.summarizer.providers.base import SummaryInput, parse_answer
from refnet.summarizer.providers.extractive import ExtractiveProvider
from tests.support.pdfs import make_paper_pdf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--papers", type=int, default=20)
    parser.add_argument("--pages", type=int, default=12)
    args = parser.parse_args()

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

    print(
        json.dumps(
            {
                "benchmark": "extractive_summarizer",
                "papers": args.papers,
                "pages": pages,
                "baseline_extract_pages_per_s": round(pages / extraction_s, 1),
                "extract_and_summarize_pages_per_s": round(pages / total_s, 1),
                "summarize_share_of_time": round(1 - extraction_s / total_s, 3),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
