"""What became of one paper's summary, as the summarizer reports it to its caller."""

from __future__ import annotations

from dataclasses import dataclass

RETRY = "retry"  # try this paper again after `retry_in` seconds


@dataclass(frozen=True, slots=True)
class SummaryOutcome:
    """`status`: a SummaryStatus value, "missing", "running" (another worker has it) or RETRY."""

    status: str
    retry_in: float | None = None
