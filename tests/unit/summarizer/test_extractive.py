"""The offline extractive summarizer: free, deterministic, in the language of its input."""

from __future__ import annotations

import json
import re

import pytest

from refnet.core.errors import InvalidInput
from refnet.summarizer.providers.base import SummaryFields, SummaryInput, parse_answer
from refnet.summarizer.providers.extractive import ExtractiveProvider, split_sentences

TITLE = "Dense Passage Retrieval for Open-Domain Question Answering"
PAPER = """Abstract
Open-domain question answering relies on efficient passage retrieval to select candidate
contexts, where traditional sparse vector space models, such as TF-IDF or BM25, are the de
facto method. In this work, we show that retrieval can be practically implemented using dense
representations alone, where embeddings are learned from a small number of questions and
passages by a simple dual-encoder framework. When evaluated on a wide range of open-domain QA
datasets, our dense retriever outperforms a strong Lucene-BM25 system greatly by 9%-19%
absolute in terms of top-20 passage retrieval accuracy.

1 Introduction
Open-domain question answering (QA) is a task that answers factoid questions using a large
collection of documents. Early QA systems are often complicated and consist of multiple
components. Retrieval in open-domain QA is usually implemented using TF-IDF or BM25, which
matches keywords efficiently with an inverted index. Conversely, the dense, latent semantic
encoding is complementary to sparse representations by design. For example, synonyms or
paraphrases that consist of completely different tokens may still be mapped to vectors close
to each other, e.g. the question and the passage share meaning but not words.

2 Dense Passage Retriever
Our dense passage retriever uses a dense encoder which maps any text passage to a
d-dimensional real-valued vector and builds an index for all the passages used for
retrieval. At run-time, the retriever applies a different encoder that maps the input
question to a vector, and retrieves the passages whose vectors are closest to the question
vector. We use FAISS, an extremely efficient open-source library for similarity search and
clustering of dense vectors, which can easily be applied to billions of vectors. Training the
encoders so that the dot-product similarity becomes a good ranking function for retrieval is
essentially a metric learning problem, as shown in Fig. 1 of Karpukhin et al. (2020).

3 Experiments
We use the English Wikipedia dump from Dec. 20, 2018 as the source documents for answering
questions. Our dense passage retriever reaches 78.4% top-20 accuracy on Natural Questions,
compared with 59.1% for BM25. In-batch negatives make training efficient, since the
questions in a batch share their passages as negatives. The dense retriever also improves
end-to-end question answering accuracy when paired with a reader model, and we obtain new
state-of-the-art results on multiple open-domain QA benchmarks.
"""
JAPANESE = """本研究では、大規模言語モデルを用いた検索拡張生成の手法を提案する。
従来の言語モデルは、学習データに含まれない知識を扱うことが難しい。
そこで我々は、外部の文書コレクションから関連する文章を検索し、その内容を生成に利用する。
実験では、オープンドメイン質問応答のベンチマークで精度が大きく向上した\uff01
また、検索インデックスを更新するだけで新しい知識に対応できることを示した。
さらに、生成された回答の根拠となる文書を提示できるため、利用者は回答を検証できる。
"""


def summarize(text: str, *, title: str = TITLE, language: str = "en") -> SummaryFields:
    item = SummaryInput(title=title, text=text, input_kind="pdf", language=language)
    return parse_answer(ExtractiveProvider().answer(item))


def sentences_of(text: str) -> set[str]:
    return {" ".join(s.split()) for s in split_sentences(text)}


def test_extractive_summary_is_deterministic() -> None:
    item = SummaryInput(title=TITLE, text=PAPER, input_kind="pdf", language="en")

    first = ExtractiveProvider().answer(item)
    second = ExtractiveProvider().answer(item)

    assert first == second


def test_extractive_answer_is_free_and_parses_through_the_common_path() -> None:
    provider = ExtractiveProvider()
    answer = provider.answer(SummaryInput(TITLE, PAPER, "pdf", "en"))

    assert (provider.name, provider.model, provider.paid) == ("extractive", "textrank-v1", False)
    assert (answer.input_tokens, answer.output_tokens, answer.truncated) == (0, 0, False)
    assert set(json.loads(answer.text)) == {"tldr", "summary", "key_points", "keywords"}


def test_tldr_is_one_sentence_of_the_paper_on_one_line() -> None:
    fields = summarize(PAPER)

    assert "\n" not in fields.tldr
    assert len(fields.tldr) <= 300
    assert fields.tldr in sentences_of(PAPER)


def test_summary_is_three_to_five_paper_sentences_in_original_order() -> None:
    fields = summarize(PAPER)

    chosen = split_sentences(fields.summary)
    assert 3 <= len(chosen) <= 5
    paper = " ".join(PAPER.split())
    positions = [paper.index(sentence) for sentence in chosen]
    assert positions == sorted(positions)


def test_key_points_are_three_to_seven_distinct_sentences() -> None:
    fields = summarize(PAPER)

    assert 3 <= len(fields.key_points) <= 7
    assert len(set(fields.key_points)) == len(fields.key_points)
    assert set(fields.key_points) <= sentences_of(PAPER)


def test_keywords_are_five_to_ten_distinct_terms_from_the_paper() -> None:
    fields = summarize(PAPER)

    assert 5 <= len(fields.keywords) <= 10
    assert len({k.casefold() for k in fields.keywords}) == len(fields.keywords)
    flat = " ".join(PAPER.split()).lower()
    assert all(keyword.lower() in flat for keyword in fields.keywords)
    assert not {"the", "we", "paper", "using"} & {k.lower() for k in fields.keywords}


def test_keywords_find_the_paper_topic() -> None:
    keywords = {k.lower() for k in summarize(PAPER).keywords}

    assert keywords & {"dense passage", "passage retrieval", "retrieval", "dense retriever"}
    assert keywords & {"question answering", "qa", "open-domain qa", "questions"}


def test_japanese_input_yields_japanese_sentences_and_terms() -> None:
    fields = summarize(JAPANESE, title="検索拡張生成による質問応答", language="ja")

    assert fields.tldr.endswith(("。", "\uff01"))
    assert fields.tldr in sentences_of(JAPANESE)
    assert all(re.search(r"[ぁ-んァ-ン一-龥]", point) for point in fields.key_points)
    assert 5 <= len(fields.keywords) <= 10
    assert all(keyword in JAPANESE for keyword in fields.keywords)
    assert {"検索拡張生成", "質問応答"} <= set(fields.keywords)  # kanji runs
    assert any(re.fullmatch(r"[ァ-ヺー]+", keyword) for keyword in fields.keywords)  # katakana
    assert not {"本研究", "手法", "提案"} & set(fields.keywords)  # generic words are not keywords


def test_japanese_sentences_split_on_japanese_full_stops() -> None:
    assert split_sentences("精度が向上した。次に「検証」を行った\uff01本当か\uff1fはい。") == [
        "精度が向上した。",
        "次に「検証」を行った\uff01",
        "本当か\uff1f",
        "はい。",
    ]


def test_english_input_stays_english_when_japanese_is_asked() -> None:
    fields = summarize(PAPER, language="ja")  # an extractive summary cannot translate

    assert fields.tldr in sentences_of(PAPER)


@pytest.mark.parametrize(
    "text",
    [
        "Sparse models, e.g. BM25, match words. Dense models match meaning.",
        "As Karpukhin et al. (2020) show, dense models win. Sparse models are cheaper.",
        "The curve in Fig. 3 rises steadily. The table shows the rest.",
        "Accuracy rose from 59.1 to 78.4 points. That is a big gain.",
        "The method of J. Smith is simple. It is also fast.",
        "Results hold, i.e. In all settings. They are stable.",
    ],
)
def test_abbreviations_and_decimals_do_not_split_sentences(text: str) -> None:
    assert len(split_sentences(text)) == 2


def test_line_breaks_and_hyphenation_inside_a_sentence_are_joined() -> None:
    assert split_sentences("Dense retrie-\nval works\nwell. Next one.") == [
        "Dense retrieval works well.",
        "Next one.",
    ]


def test_a_one_sentence_tldr_still_yields_a_valid_summary() -> None:
    tldr = "A dual encoder trained on question-passage pairs beats BM25 for open-domain QA."

    item = SummaryInput(title=TITLE, text=tldr, input_kind="tldr", language="en")
    fields = parse_answer(ExtractiveProvider().answer(item))

    assert fields.tldr == tldr
    assert fields.summary == tldr
    assert fields.key_points == [tldr]
    assert 1 <= len(fields.keywords) <= 10


def test_very_short_input_without_a_full_stop_is_summarized() -> None:
    fields = summarize("BM25 baseline")

    assert fields.tldr == "BM25 baseline"
    assert fields.keywords


def test_a_long_sentence_becomes_a_tldr_cut_on_a_word_boundary() -> None:
    long = "Dense retrieval " + "works very well in practice and " * 30 + "beats BM25."

    tldr = summarize(long).tldr

    assert len(tldr) <= 300 and tldr.endswith("…")
    assert long.startswith(tldr[:-1])
    assert long[len(tldr) - 1] == " "


def test_a_long_input_is_summarized_from_its_first_candidates() -> None:
    long = "\n\n".join([PAPER] * 60)  # about 1,500 sentences, above the candidate cap

    fields = summarize(long)

    assert fields.tldr in sentences_of(PAPER)
    assert 5 <= len(fields.keywords) <= 10


def test_unsupported_language_and_empty_text_are_invalid_input() -> None:
    provider = ExtractiveProvider()

    with pytest.raises(InvalidInput, match="supported: en, ja"):
        provider.answer(SummaryInput(TITLE, PAPER, "pdf", "de"))
    with pytest.raises(InvalidInput, match="empty"):
        provider.answer(SummaryInput(TITLE, "  ", "pdf", "en"))
