"""How promising a discovered paper is: the order of best-first collection.

    score = (log(1 + citations) + 0.5 * log(1 + influential citations) + 1.5 * links)
            * 0.6 ** depth

- `citations`, `influential citations`: the paper's counts as the source reports them; a
  widely cited paper is more likely to matter, but the logarithm keeps a few giants from
  crowding out everything else, and influential citations (where the citing paper builds on
  it) add a bonus.
- `links`: how many papers already collected cite it or are cited by it. A paper cited by
  several collected papers is co-cited with them; one that cites several of them is
  bibliographically coupled to them. Either way it sits in the middle of the network being
  built, whatever its global popularity.
- `depth`: hops from the nearest seed; each hop multiplies the score by 0.6, so the
  neighbourhood of the seeds comes first.

Ties are broken by S2 paper id, so a crawl is reproducible.
"""

from __future__ import annotations

import math

INFLUENTIAL_WEIGHT = 0.5
LINK_WEIGHT = 1.5
DEPTH_DECAY = 0.6


def score_paper(
    *,
    citation_count: int | None,
    influential_citation_count: int | None,
    links: int,
    depth: int,
) -> float:
    popularity = math.log1p(max(citation_count or 0, 0))
    influence = INFLUENTIAL_WEIGHT * math.log1p(max(influential_citation_count or 0, 0))
    connectivity = LINK_WEIGHT * links
    return round((popularity + influence + connectivity) * DEPTH_DECAY**depth, 9)
