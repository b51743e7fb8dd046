"""The interface every paper source offers the crawler."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from refnet.core.records import CitationRecord, PaperRecord

BATCH_LIMIT = 500


class PaperSource(Protocol):
    """Where papers come from: the Semantic Scholar API or a local snapshot.

    Ids are anything the API accepts (40-hex paperId, `CorpusId:n`, `DOI:…`, `ARXIV:…`, …).
    """

    name: str

    def get_papers(self, ids: Sequence[str]) -> list[PaperRecord | None]:
        """Full records in request order; None where the id is unknown."""
        ...

    def get_citations(
        self, paper_id: str, *, limit: int, published_since: str | None = None
    ) -> list[CitationRecord]:
        """Papers citing `paper_id` (at most `limit`), optionally only recent ones."""
        ...

    def match_title(self, title: str) -> PaperRecord | None:
        """The paper whose title best matches, or None."""
        ...

    def close(self) -> None: ...
