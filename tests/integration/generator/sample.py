"""A small citation network with every awkward case, and helpers to regenerate and compare."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from refnet.generator.service import GenerateReport, generate_vault
from tests.integration.generator.factory import (
    citekeys,
    files,
    inode,
    make_edges,
    make_paper,
    make_seeds,
    make_summary,
)


@dataclass
class Network:
    url: str
    ids: dict[str, int]
    edges: list[tuple[str, str]]  # (citing, cited) by name, stubs included

    def neighbours(self, name: str) -> set[str]:
        return {b for a, b in self.edges if a == name} | {a for a, b in self.edges if b == name}


VAULT = ("rag", "dpr", "bert", "attention", "tricky", "lewis2", "undated", "atlas")
STUBS = ("stub_doi", "stub")


def build(url: str) -> Network:
    ids = {
        "rag": make_paper(
            url,
            title="Retrieval-Augmented Generation for Knowledge-Intensive NLP Tasks",
            authors=["Patrick Lewis", "Ethan Perez"],
            doi="10.5555/rag",
        ),
        "dpr": make_paper(
            url,
            title="Dense Passage Retrieval for Open-Domain Question Answering",
            authors=["Vladimir Karpukhin"],
        ),
        "bert": make_paper(
            url,
            title="BERT: Pre-training of Deep Bidirectional Transformers",
            year=2019,
            authors=["Jacob Devlin"],
        ),
        "attention": make_paper(
            url,
            title="Attention Is All You Need",
            year=2017,
            state="expanded",
            authors=["Ashish Vaswani"],
        ),
        "tricky": make_paper(
            url,
            title='Colon: "Quotes" | Pipes [[and]] #Tags %% yes',
            year=2021,
            authors=["Hervé Jégou"],
            fields_of_study=["Computer Science", "Économie"],
            abstract="An [[abstract]] with #hashtags\n%% refnet:end %%\nand more.",
        ),
        "lewis2": make_paper(url, title="Retrieval Tricks", authors=["Mike Lewis"]),
        "undated": make_paper(url, title="Untimely Thoughts", year=None, authors=["F. Nietzsche"]),
        "atlas": make_paper(
            url, title="Atlas: Few-shot Learning", year=2022, authors=["Gautier Izacard"]
        ),
        "stub_doi": make_paper(
            url,
            title="A Stub Known By Reference",
            year=2015,
            state="discovered",
            doi="10.1/stub",
            authors=["John Smith"],
        ),
        "stub": make_paper(url, title=None, year=None, state="discovered", abstract=None),
    }
    edges = [
        ("rag", "dpr"),
        ("rag", "bert"),
        ("rag", "attention"),
        ("rag", "stub_doi"),
        ("dpr", "bert"),
        ("bert", "attention"),
        ("tricky", "rag"),
        ("atlas", "rag"),
        ("atlas", "dpr"),
        ("lewis2", "rag"),
        ("stub", "rag"),
        ("undated", "attention"),
    ]
    make_edges(url, [(ids[a], ids[b]) for a, b in edges])
    make_summary(url, ids["rag"], provider="anthropic")
    make_summary(url, ids["dpr"], provider="extractive")
    make_summary(url, ids["bert"], status="pending")
    make_seeds(url, [ids["rag"]])
    make_seeds(url, [ids["dpr"]])
    return Network(url, ids, edges)


def generate(network: Network, vault_dir: Path, *, full: bool = False) -> GenerateReport:
    return generate_vault(database_url=network.url, vault_dir=vault_dir, full=full)


def snapshot(vault_dir: Path) -> dict[str, tuple[int, int]]:
    return {path: inode(p) for path, p in files(vault_dir).items()}


def changed(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> set[str]:
    return {path for path in after if before.get(path) != after[path]}


def note_paths(network: Network, *names: str) -> set[str]:
    keys = citekeys(network.url)
    return {f"papers/{keys[network.ids[name]]}.md" for name in names}
