"""Word, name and venue pools for the synthetic Semantic Scholar graph.

Deliberately small and varied: publisher-cased DOIs, non-ASCII names and title words, venues
with and without S2 venue objects. Pure data plus tiny formatters; no randomness here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

GIVEN_NAMES = (
    "Ada", "Alan", "Barbara", "Chen", "David", "Elena", "Fatima", "Geoffrey", "Hiroshi", "Ines",
    "James", "Kyle", "Li", "Maria", "Noam", "Oren", "Priya", "Quentin", "Rosa", "Sergey",
    "Tomás", "Ümit", "Valentina", "Wei", "Xiaoling", "Yann", "Zoë", "José", "Søren", "Łukasz",
    "François", "Ngọc", "Ashish", "Ilya", "Jürgen", "Ayşe", "Dmitrij", "Renée",
)  # fmt: skip
FAMILY_NAMES = (
    "Smith", "Zhang", "Müller", "García", "Nguyễn", "Kowalski", "O'Brien", "Ammar", "Lo",
    "Vaswani", "Bengio", "Hinton", "LeCun", "Schmidhuber", "Devlin", "Lewis", "Radford",
    "Sutskever", "Kingma", "Goodfellow", "Håkansson", "Özdemir", "Dvořák", "Tanaka", "Yamamoto",
    "Van der Berg", "de la Cruz", "Petrović", "Ivanova", "Andersen", "Kumar", "Singh", "Okafor",
    "Beltagy", "Wang", "Li", "Liu", "Chen", "Brown", "Ng", "Ørsted", "Ramírez", "Schön",
)  # fmt: skip
ADJECTIVES = (
    "Scalable", "Robust", "Efficient", "Deep", "Sparse", "Bayesian", "Contrastive", "Federated",
    "Adversarial", "Hierarchical", "Probabilistic", "Neural", "Causal", "Differentiable",
    "Unsupervised", "Self-Supervised", "Multilingual", "Interpretable", "Distributed", "Stochastic",
    "Variational", "Generative", "Recurrent", "Convolutional", "Quantum", "Graph-Based",
    "Low-Rank", "Adaptive", "Fast", "Provable", "Compositional", "Retrieval-Augmented",
)  # fmt: skip
NOUNS = (
    "Attention", "Transformers", "Embeddings", "Representations", "Inference", "Optimization",
    "Retrieval", "Summarization", "Parsing", "Segmentation", "Detection", "Translation",
    "Reasoning", "Memory", "Networks", "Kernels", "Priors", "Gradients", "Agents", "Policies",
    "Citations", "Graphs", "Proteins", "Molecules", "Genomes", "Images", "Speech", "Dialogue",
    "Knowledge", "Literature", "Tokenization", "Calibration", "Alignment", "Distillation",
    "Pretraining", "Benchmarks", "Clustering", "Diffusion", "Sampling", "Compression",
)  # fmt: skip
DOMAINS = (
    "Scientific Literature", "Clinical Trials", "Protein Folding", "Machine Translation",
    "Question Answering", "Autonomous Driving", "Climate Modeling", "Drug Discovery",
    "Citation Recommendation", "Medical Imaging", "Code Generation", "Materials Design",
    "Legal Documents", "Social Networks", "Speech Recognition", "Robotics", "Astronomy",
    "Epidemiology", "Recommender Systems", "Information Extraction",
)  # fmt: skip
UNICODE_WORDS = (
    "Schrödinger", "Poincaré", "Gödel", "Erdős–Rényi", "naïve", "β-VAE", "α-Helices",  # noqa: RUF001
    "Łojasiewicz", "Señal", "Müller–Lyer", "Ångström-Scale", "深層学習", "Δ-Learning",  # noqa: RUF001
    "Café", "Fréchet", "Kähler", "Čech", "∞-Categories",
)  # fmt: skip
TITLE_TEMPLATES = (
    "{adj} {noun} for {domain}",
    "{adj} {noun} of {noun2} in {domain}",
    "On the {noun} of {adj} {noun2}",
    "Towards {adj} {noun} with {noun2}",
    "{noun} Is All You Need",
    "Learning {adj} {noun} from {noun2}",
    "{adj} {noun}: A Survey",
    "Rethinking {noun} for {adj} {noun2}",
    "{adj} and {adj2} {noun} for {domain}",
    "When Do {adj} {noun} Help {noun2}?",
)
FIELDS_OF_STUDY = (
    "Computer Science", "Medicine", "Biology", "Physics", "Mathematics", "Chemistry",
    "Materials Science", "Engineering", "Linguistics", "Psychology", "Economics",
)  # fmt: skip
TLDR_MODEL = "tldr@v2.0.0"
DISCLAIMER = (
    "Notice: Paper or abstract available at {source}, which is subject to the license by the "
    "author or copyright owner provided with this content. Please go to the source to verify "
    "the license and copyright information for your use."
)
ARXIV_ARCHIVES = ("hep-th", "hep-ph", "cond-mat", "math", "cs", "astro-ph", "quant-ph")
INTENT_CHOICES: tuple[tuple[str, ...], ...] = (
    (), (), (), (), ("background",), ("background",), ("background",), ("methodology",),
    ("methodology",), ("result",), ("background", "methodology"),
)  # fmt: skip
CONTEXT_TEMPLATES = (
    "Prior work on {topic} [{n}] motivates our approach.",
    "We follow the setup of {topic} [{n}].",
    "Unlike {topic} [{n}], we do not assume labelled data.",
    "Results are consistent with those reported for {topic} [{n}].",
    "Several methods address {topic} [{n}, {m}].",
)

DoiFormat = Callable[[int, int, int], str]  # (number, year, month) -> DOI


@dataclass(frozen=True, slots=True)
class Venue:
    name: str
    kind: str  # "conference" | "journal" | "repository" | "book"
    alternate_names: tuple[str, ...]
    url: str
    fields: tuple[str, ...]
    doi: DoiFormat | None
    acl: bool = False
    pubmed: bool = False
    arxiv_rate: float = 0.2


VENUES = (
    Venue(
        "Annual Meeting of the Association for Computational Linguistics", "conference",
        ("ACL", "Annu Meet Assoc Comput Linguistics"), "https://www.aclweb.org/anthology/venues/acl/",
        ("Computer Science", "Linguistics"),
        lambda n, y, m: f"10.18653/V1/{y}.ACL-MAIN.{n}", acl=True, arxiv_rate=0.6,
    ),
    Venue(
        "Neural Information Processing Systems", "conference", ("NeurIPS", "NIPS"),
        "http://neurips.cc/", ("Computer Science", "Mathematics"), None, arxiv_rate=0.8,
    ),
    Venue(
        "Computer Vision and Pattern Recognition", "conference", ("CVPR",),
        "https://ieeexplore.ieee.org/xpl/conhome.jsp?punumber=1000147", ("Computer Science",),
        lambda n, y, m: f"10.1109/CVPR.{y}.{n:05d}", arxiv_rate=0.6,
    ),
    Venue(
        "Knowledge Discovery and Data Mining", "conference", ("KDD",), "http://www.acm.org/sigkdd/",
        ("Computer Science",), lambda n, y, m: f"10.1145/{3000000 + n}.{3300000 + n}",
    ),
    Venue(
        "Nature", "journal", ("Nat",), "http://www.nature.com/nature/", ("Biology", "Physics"),
        lambda n, y, m: f"10.1038/s41586-{y % 100:02d}-{n:05d}-X",
    ),
    Venue(
        "Physical Review Letters", "journal", ("Phys Rev Lett",), "http://prl.aps.org/",
        ("Physics",), lambda n, y, m: f"10.1103/PhysRevLett.{y - 1900}.{n:06d}", arxiv_rate=0.7,
    ),
    Venue(
        "New England Journal of Medicine", "journal", ("N Engl J Med", "NEJM"),
        "http://www.nejm.org/", ("Medicine",), lambda n, y, m: f"10.1056/NEJMoa{y}{n:05d}",
        pubmed=True, arxiv_rate=0.0,
    ),
    Venue(
        "PLoS ONE", "journal", ("PLOS ONE",), "https://journals.plos.org/plosone/",
        ("Biology", "Medicine"), lambda n, y, m: f"10.1371/journal.pone.{n:07d}", pubmed=True,
        arxiv_rate=0.0,
    ),
    Venue(
        "IEEE Transactions on Pattern Analysis and Machine Intelligence", "journal", ("TPAMI",),
        "http://www.computer.org/tpami/", ("Computer Science", "Mathematics"),
        lambda n, y, m: f"10.1109/TPAMI.{y}.{n:07d}",
    ),
    Venue(
        "Journal of Chemical Physics", "journal", ("J Chem Phys",), "https://pubs.aip.org/aip/jcp",
        ("Chemistry", "Physics"), lambda n, y, m: f"10.1063/1.{n:07d}",
    ),
    Venue(
        "arXiv.org", "repository", ("ArXiv",), "https://arxiv.org",
        ("Computer Science", "Physics", "Mathematics"), None, arxiv_rate=1.0,
    ),
    Venue(
        "Lecture Notes in Computer Science", "book", ("LNCS",), "https://www.springer.com/series/558",
        ("Computer Science",), lambda n, y, m: f"10.1007/978-3-030-{n:05d}-{n % 10}_{n % 40 + 1}",
    ),
    Venue(
        "bioRxiv", "repository", ("bioRxiv",), "https://www.biorxiv.org/", ("Biology",),
        lambda n, y, m: f"10.1101/{y}.{m:02d}.{n % 28 + 1:02d}.{n:06d}", arxiv_rate=0.0,
    ),
)  # fmt: skip


def publication_types(kind: str, roll: float) -> list[str] | None:
    """S2 publicationTypes for a venue kind; `roll` in [0, 1) picks the variant."""
    if roll < 0.1:
        return None
    if kind == "conference":
        return ["JournalArticle", "Conference"] if roll < 0.4 else ["Conference"]
    if kind == "book":
        return ["Book"] if roll < 0.3 else ["JournalArticle"]
    if roll > 0.93:
        return ["JournalArticle", "Review"]
    return ["JournalArticle"]


def bibtex_entry(
    *, kind: str, key: str, authors: list[str], venue: str, title: str, year: int
) -> str:
    """A bibtex string in the shape of S2's citationStyles.bibtex."""
    entry = {"conference": "Inproceedings", "book": "Book"}.get(kind, "Article")
    place = "booktitle" if kind == "conference" else "journal"
    lines = [f"@{entry}{{{key},"]
    if authors:
        lines.append(f" author = {{{' and '.join(authors)}}},")
    if venue:
        lines.append(f" {place} = {{{venue}}},")
    lines.append(f" title = {{{title}}},")
    lines.append(f" year = {{{year}}}")
    return "\n".join(lines) + "\n}\n"
