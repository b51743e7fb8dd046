"""Offline extractive summaries: plain Python, no network, no model download, deterministic.

- Sentences: paragraphs (blank lines) are joined into lines, words hyphenated across a line
  break are rejoined, then split after a Japanese full stop (U+3002, full-width . ! ?) or
  after ".!?" followed by a capital or digit, unless the word before the period is an
  abbreviation ("e.g.", "et al.", "Fig.", "No."), an initial ("J. Smith") or a number's
  decimal point ("3.14" never splits).
- Scores: a biased TextRank. Sentences are TF-IDF vectors (sentences as documents); each is
  linked to its `NEIGHBOURS` most similar (cosine), and PageRank's random jump favours
  sentences sharing words with the title and, mildly, early ones (the input is prioritized).
  Only the first `MAX_CANDIDATES` usable sentences (20-600 characters, mostly letters) enter
  the graph, which bounds the cost; all sentences count for keywords.
- TL;DR: the best sentence (at most 300 characters, cut on a word boundary); summary: the
  best 3-5 distinct sentences in their original order; key points: the next best distinct
  ones (3-7; taken from the summary's when the input has too few sentences).
- Keywords: 5-10 words and two-word phrases scored TF-IDF-like (count times a rarity boost
  across sentences, doubled for phrases, title words and acronyms favoured), without English
  stopwords and generic paper words; in Japanese, katakana and kanji runs of 2+ characters.
  A tiny input may yield fewer than five.

The summary is in the language of the input: an extractive summary cannot translate, so
`item.language` is checked but does not change the text (ask an LLM provider for that).
"""

from __future__ import annotations

import heapq
import json
import math
import re
from collections import Counter, defaultdict

from refnet.core.errors import InvalidInput
from refnet.summarizer.providers.base import (
    MAX_KEYWORDS,
    SUPPORTED_LANGUAGES,
    ProviderAnswer,
    SummaryInput,
    shorten,
)

MAX_CANDIDATES = 400
NEIGHBOURS = 20
DAMPING = 0.85
REDUNDANT = 0.6  # cosine above which a sentence repeats one already chosen

_STOPWORDS_TEXT = """
    a about above after again against all also although among an and any are as at be because
    been before being below between both but by can could did do does doing done down during
    each either et etc few for from further had has have having he her here hers him his how
    however i if in into is it its itself just may me might more most much must my no nor not
    now of off on once only or other our ours out over own per same she should since so some
    such than that the their theirs them then there these they this those though through thus
    to too under until up upon us very via was we were what when where whether which while who
    whom whose why will with within without would yet you your
"""
_GENERIC_TEXT = """
    able achieve achieves across al allow allows apply applied approach based better compare
    compared demonstrate demonstrates describe describes different discuss discusses earlier eg
    evaluate evaluated existing fig figure find finds first given higher ie improve improved
    improves introduce introduces keep keeps large let lets lower make makes method methods new
    novel number obtain obtained one outperform outperforms paper perform performs present
    presents previous prior propose proposed proposes provide provides reach reaches recent
    report reports result results section show shown shows significant significantly simple
    solve solves studies study suggest suggests table task tasks two use used uses using various
    well work works
"""
_GENERIC_JA_TEXT = """
    本研究 本論文 本稿 我々 提案 手法 方法 結果
    論文 研究 実験 場合 以下 以上 可能 必要 利用
"""
_ABBREVIATIONS_TEXT = """
    al alg app approx apr aug avg ca cf ch co corp dec def dept dr ed eds eq eqs est etc feb fig
    figs inc jan jr jul jun lem ltd mar max min mr mrs ms no nos nov oct pp prof prop ref refs
    resp sec sect sep sept st std tab thm univ viz vol vs
"""
_STOPWORDS = frozenset(_STOPWORDS_TEXT.split())
_GENERIC = frozenset(_GENERIC_TEXT.split())
_GENERIC_JA = frozenset(_GENERIC_JA_TEXT.split())
_ABBREVIATIONS = frozenset(_ABBREVIATIONS_TEXT.split())
_BOUNDARY = re.compile(  # Japanese full stops and closing brackets; or .!? then a capital/digit
    r"[\u3002\uff01\uff1f\uff0e]+[\u300d\u300f\uff09]*\s*"
    r"|[.!?]+[\"'\u201d\u2019)\]]*\s+(?=[\"'\u201c\u2018(\[]*[A-Z0-9])"
)
_ANAPHORA = re.compile(
    r"(?:it|its|this|these|those|they|their|such|he|she|however|thus|therefore|moreover)\b", re.I
)
_HEADING = re.compile(  # a short unpunctuated line before a capitalized one: "2 Method"
    r"^([ \t]*(?:\d+(?:\.\d+)*\.?|[IVX]+\.)?[ \t]*[A-Z][^\n.!?:;,]{0,50})[ \t]*\n(?=[ \t]*[A-Z])",
    re.MULTILINE,
)
_FINAL = re.compile(r"[.!?\u3002\uff01\uff1f\uff0e][\"'\u201d\u2019)\]\u300d\u300f\uff09]*$")
_TOKEN_BEFORE = re.compile(r"[\w.]*$")
_LATIN = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-'][A-Za-z0-9]+)*")
_TERM = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-'][A-Za-z0-9]+)*|[ァ-ヺー]{2,}|[一-鿿々]{2,}")
_JAPANESE = re.compile(r"[ぁ-ゖァ-ヺー一-鿿々。、]")

Bag = dict[str, float]


class ExtractiveProvider:
    """`SummaryProvider` that picks sentences from the input itself; free and offline."""

    name = "extractive"
    paid = False

    def __init__(self, model: str = "textrank-v1") -> None:
        self.model = model

    def answer(self, item: SummaryInput) -> ProviderAnswer:
        if item.language not in SUPPORTED_LANGUAGES:
            raise InvalidInput(
                f"unsupported summary language {item.language!r}; "
                f"supported: {', '.join(SUPPORTED_LANGUAGES)}"
            )
        if not item.text.strip():
            raise InvalidInput("nothing to summarize: the input text is empty")
        fields = summarize(item.title, item.text)
        text = json.dumps(fields, ensure_ascii=False)
        return ProviderAnswer(text=text, input_tokens=0, output_tokens=0, truncated=False)


def summarize(title: str, text: str) -> dict[str, object]:
    """The summary fields of `text`, as the JSON object an LLM would answer."""
    sentences = split_sentences(text)
    candidates = [s for s in sentences if _usable(s)][:MAX_CANDIDATES] or sentences[:3]
    vectors = _tfidf([_vector(_terms(s)) for s in candidates])
    scores = _rank(vectors, _prior(vectors, set(_terms(title))))
    order = sorted(range(len(candidates)), key=lambda i: (-scores[i], i))
    n = len(candidates)
    chosen = _distinct(order, vectors, min(n, max(3, min(5, n // 8))), [])
    points = _distinct(order, vectors, min(7, max(3, n // 10)), chosen)
    points += [i for i in chosen if i not in points][: max(0, 3 - len(points))]
    return {
        "tldr": shorten(candidates[_headline(order[:5], candidates)]),
        "summary": _join([shorten(candidates[i], 600) for i in sorted(chosen)]),
        "key_points": [shorten(candidates[i], 400) for i in points],
        "keywords": keywords(sentences, title) or keywords([title], title),
    }


def _headline(best: list[int], candidates: list[str]) -> int:
    """The best sentence that stands alone (does not open with "It", "This", "However"…)."""
    return next((i for i in best if not _ANAPHORA.match(candidates[i])), best[0])


def split_sentences(text: str) -> list[str]:
    sentences: list[str] = []
    for paragraph in re.split(r"\n\s*\n", _HEADING.sub(r"\1\n\n", text)):
        flat = re.sub(r"([a-z])-\n\s*([a-z])", r"\1\2", paragraph)
        flat = re.sub(r"(?<=[^\x00-\x7f])\n\s*(?=[^\x00-\x7f])", "", flat)
        sentences.extend(_split_line(" ".join(flat.split())))
    return sentences


def _split_line(line: str) -> list[str]:
    pieces, start = [], 0
    for match in _BOUNDARY.finditer(line):
        if match.group().startswith(".") and _abbreviation(line, match.start()):
            continue
        pieces.append(line[start : match.end()].strip())
        start = match.end()
    pieces.append(line[start:].strip())
    return [piece for piece in pieces if piece]


def _abbreviation(line: str, dot: int) -> bool:
    found = _TOKEN_BEFORE.search(line, max(0, dot - 24), dot)
    token = found.group() if found else ""
    lower = token.lower()
    return (
        lower in _ABBREVIATIONS
        or (len(token) == 1 and token.isupper())
        or re.fullmatch(r"(?:[a-z]\.)+[a-z]", lower) is not None
    )


def _usable(sentence: str) -> bool:
    letters = sum(ch.isalpha() for ch in sentence)
    shortest = 10 if _JAPANESE.search(sentence) else 20
    return (
        shortest <= len(sentence) <= 600
        and letters >= 0.5 * len(sentence)
        and _FINAL.search(sentence) is not None
    )


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _terms(sentence: str) -> list[str]:
    words = (match.group().lower() for match in _TERM.finditer(sentence))
    return [_stem(word) for word in words if word not in _STOPWORDS and len(word) > 1]


def _vector(terms: list[str]) -> Bag:
    counts = Counter(terms)
    return {term: 1.0 + math.log(count) for term, count in counts.items()}


def _rank(vectors: list[Bag], prior: list[float]) -> list[float]:
    """PageRank over the k-nearest-neighbour cosine graph, jumping by `prior`."""
    graph = _neighbour_graph(vectors)
    n = len(vectors)
    total = sum(prior)
    jump = [p / total for p in prior]
    out = [sum(edges.values()) for edges in graph]
    incoming = [[(j, w / out[j]) for j, w in graph[i].items()] for i in range(n)]
    scores = list(jump)
    for _ in range(100):
        dangling = sum(scores[i] for i in range(n) if out[i] == 0.0)
        new = [
            (1 - DAMPING + DAMPING * dangling) * jump[i]
            + DAMPING * sum(scores[j] * w for j, w in incoming[i])
            for i in range(n)
        ]
        delta = sum(abs(a - b) for a, b in zip(new, scores, strict=True))
        scores = new
        if delta < 1e-7:
            break
    return scores


def _tfidf(bags: list[Bag]) -> list[Bag]:
    n = len(bags)
    df = Counter(term for bag in bags for term in bag)
    vectors = []
    for bag in bags:
        weights = {t: w * math.log(1 + n / df[t]) for t, w in bag.items()}
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        vectors.append({t: w / norm for t, w in weights.items()})
    return vectors


def _neighbour_graph(vectors: list[Bag]) -> list[dict[int, float]]:
    postings: defaultdict[str, list[tuple[int, float]]] = defaultdict(list)
    for i, vector in enumerate(vectors):
        for term, weight in vector.items():
            postings[term].append((i, weight))
    graph: list[dict[int, float]] = [{} for _ in vectors]
    for i, vector in enumerate(vectors):
        sims: defaultdict[int, float] = defaultdict(float)
        for term, weight in vector.items():
            for j, other in postings[term]:
                if j != i:
                    sims[j] += weight * other
        for j, sim in heapq.nlargest(NEIGHBOURS, sims.items(), key=lambda js: (js[1], -js[0])):
            graph[i][j] = graph[j][i] = sim
    return graph


def _prior(vectors: list[Bag], title: set[str]) -> list[float]:
    """1 + 2 * the share of title terms in the sentence + up to 0.5 for coming early."""
    n = len(vectors)
    return [
        1.0 + 2.0 * len(title & vector.keys()) / (len(title) or 1) + 0.5 * (1 - i / n)
        for i, vector in enumerate(vectors)
    ]


def _cosine(a: Bag, b: Bag) -> float:
    return sum(w * b[t] for t, w in a.items() if t in b)


def _distinct(order: list[int], bags: list[Bag], count: int, taken: list[int]) -> list[int]:
    """The first `count` of `order` not in `taken` and not repeating a chosen sentence."""
    chosen: list[int] = []
    for i in order:
        if len(chosen) >= count:
            break
        if i in taken or any(_cosine(bags[i], bags[j]) > REDUNDANT for j in chosen + taken):
            continue
        chosen.append(i)
    return chosen


def _join(sentences: list[str]) -> str:
    text = ""
    for sentence in sentences:
        glue = "" if not text or _JAPANESE.match(text[-1]) else " "
        text += glue + sentence
    return text


def keywords(sentences: list[str], title: str, limit: int = MAX_KEYWORDS) -> list[str]:
    counts: Counter[str] = Counter()
    df: Counter[str] = Counter()
    forms: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for sentence in sentences:
        found = _candidates(sentence)
        for key, form in found:
            counts[key] += 1
            forms[key][form] += 1
        df.update({key for key, _ in found})
    in_title = {key for key, _ in _candidates(title)}
    min_phrase = 2 if len(sentences) > 5 else 1
    n = len(sentences)
    in_phrases: Counter[str] = Counter()  # a word's occurrences inside recurring phrases
    for key, count in counts.items():
        if " " in key and count > 1:
            in_phrases.update(dict.fromkeys(key.split(), count))

    def score(key: str) -> float:
        phrase = " " in key and counts[key] > 1
        boost = (2.0 if phrase else 1.0) * (2.0 if key in in_title else 1.0)
        boost *= 1.5 if any(f.isupper() and len(f) > 1 for f in forms[key]) else 1.0
        count = counts[key] if " " in key else max(counts[key] - in_phrases[key], 0.5)
        return count * (1 + math.log((n + 1) / (df[key] + 1))) * boost

    ranked = sorted(
        (key for key in counts if " " not in key or counts[key] >= min_phrase),
        key=lambda key: (-score(key), key),
    )
    chosen: list[str] = []
    for key in ranked:
        words = set(key.split())
        if not any(words <= set(c.split()) or set(c.split()) <= words for c in chosen):
            chosen.append(key)
        if len(chosen) == limit:
            break
    return [_display(forms[key]) for key in chosen]


def _candidates(sentence: str) -> list[tuple[str, str]]:
    """(key, surface form) of the keyword candidates in `sentence`, two-word phrases included."""
    found: list[tuple[str, str]] = []
    previous: tuple[str, str, int] | None = None  # lower case, surface form, end offset
    for match in _TERM.finditer(sentence):
        form = match.group()
        lower = form.lower()
        if not _LATIN.fullmatch(form) or lower in _STOPWORDS or len(form) < 2:
            if not _LATIN.fullmatch(form) and form not in _GENERIC_JA:
                found.append((form, form))  # a katakana or kanji run
            previous = None
            continue
        key = _stem(lower)
        if lower not in _GENERIC and (len(form) > 2 or form.isupper()):
            found.append((key, form))
        if (
            previous is not None
            and sentence[previous[2] : match.start()] == " "
            and previous[0] not in _GENERIC
            and lower not in _GENERIC
        ):
            found.append((f"{_stem(previous[0])} {key}", f"{previous[1]} {form}"))
        previous = (lower, form, match.end())
    return found


def _display(forms: Counter[str]) -> str:
    """The usual spelling: lower case unless the term is always capitalized (BERT, GPT-4)."""
    lower = [(count, form) for form, count in forms.most_common() if form == form.lower()]
    return max(lower, key=lambda cf: cf[0])[1] if lower else forms.most_common(1)[0][0]
