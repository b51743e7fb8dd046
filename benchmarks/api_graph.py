"""A citation graph with a heavy tail, for the API load benchmark's dataset.

Papers are numbered in publication order and cite only earlier papers. Collected papers (full
metadata) list references; stubs (known by title only, as the crawler leaves the papers it saw
in listings) list none but are cited like any other. Each reference goes, with probability
`ATTACHMENT`, to an earlier paper chosen in proportion to the citations it already has
(preferential attachment), else to any earlier paper: the most cited end up with thousands of
citers, most papers with a handful. Everything comes from one seeded `random.Random`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

ATTACHMENT = 0.75


@dataclass(frozen=True, slots=True)
class Graph:
    collected: list[bool]  # by paper number
    references: list[list[int]]  # paper numbers each paper cites, ascending
    citers: list[int]  # how many papers cite each paper

    @property
    def edges(self) -> int:
        return sum(len(cited) for cited in self.references)


def out_degrees(rng: random.Random, collected: list[bool], edges: int) -> list[int]:
    """References per paper, summing to exactly `edges` (a paper cites at most all before it)."""
    citing = [n for n, c in enumerate(collected) if c and n > 0]
    capacity = sum(citing)
    if edges > capacity:
        raise ValueError(f"{edges} edges do not fit among {len(collected)} papers ({capacity} max)")
    mean = edges / max(len(citing), 1)
    degrees = [0] * len(collected)
    for n in citing:  # about exponential around the mean, as reference counts are
        degrees[n] = min(n, int(rng.expovariate(1 / mean)) + 1)
    excess = sum(degrees) - edges
    while excess > 0:
        n = rng.choice(citing)
        if degrees[n] > 0:
            degrees[n] -= 1
            excess -= 1
    while excess < 0:
        n = rng.choice(citing)
        if degrees[n] < n:
            degrees[n] += 1
            excess += 1
    return degrees


def make_graph(papers: int, edges: int, *, seed: int, stub_share: float = 0.2) -> Graph:
    rng = random.Random(seed)
    collected = [rng.random() >= stub_share for _ in range(papers)]
    degrees = out_degrees(rng, collected, edges)
    citers = [0] * papers
    pool: list[int] = []  # each paper once per citation it has: drawing from it is preferential
    references: list[list[int]] = []
    for n, degree in enumerate(degrees):
        if degree * 2 >= n:  # dense: draw without retries
            chosen = set(rng.sample(range(n), degree))
        else:
            chosen = set()
            while len(chosen) < degree:
                if pool and rng.random() < ATTACHMENT:
                    chosen.add(pool[int(rng.random() * len(pool))])
                else:
                    chosen.add(int(rng.random() * n))
        cited = sorted(chosen)
        references.append(cited)
        for target in cited:
            citers[target] += 1
        pool.extend(cited)
    return Graph(collected=collected, references=references, citers=citers)
