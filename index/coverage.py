"""How much of a question the top sentences state, word by word.

Each content word of the question counts in full when its stem appears in
the evidence, and otherwise by its best cosine to a word of the top
sentences, both words taken as the embedding model's *contextual* token
vectors (mean over word pieces). Weighted by IDF, this is the recall half of
BERTScore (Zhang et al., 2020). It credits a paraphrase ("energy market ...
set up together" against "establish a joint electricity market") that exact
word overlap scores as absent, and it measured better as an abstention
signal than exact overlap (``benchmarks/answers.py``).

Hand-written, in a few lines, because the ``bert-score`` package loads a
second copy of the model by hub name and scores one sentence pair at a
time; here the vectors come from the model already loaded, in one batch of
the question and the top sentences, and exact (stemmed) matches anywhere in
the evidence count in full.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from footnotes.index.embedding import Encoder, single_thread
from footnotes.index.lexical import content_spans, stem
from footnotes.ingest.sentences import split_sentences

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding


@dataclass(frozen=True, eq=False)
class Word:
    """A content word of a text: its stem, its span, and its contextual vector if known."""

    stem: str
    start: int
    end: int
    vector: np.ndarray | None = None


WordsOf = Callable[[list[str]], list[list[Word]]]
"""Content words of each text, with vectors when the encoder is reachable."""


def content_words(text: str) -> list[Word]:
    """The content words of ``text`` (stemmed, stopwords dropped), without vectors."""
    spans = content_spans(text)
    stems = stem([word for _, _, word in spans])
    return [Word(s, a, b) for s, (a, b, _) in zip(stems, spans, strict=True)]


class WordVectors:
    """Content words with contextual vectors, from the embedding model.

    ``embed_model`` is the :class:`Encoder` that embeds the store, or ``None``
    (or another embedding model, which does not expose its tokens): then words
    come without vectors and only exact matches count.
    """

    def __init__(self, embed_model: BaseEmbedding | None) -> None:
        self.encoder = embed_model if isinstance(embed_model, Encoder) else None

    def __call__(self, texts: list[str]) -> list[list[Word]]:
        words = [content_words(t) for t in texts]
        if self.encoder is None or not texts:
            return words
        with single_thread():
            tokens = self.encoder.token_vectors(texts)
        return [_with_vectors(ws, t, o) for ws, (t, o) in zip(words, tokens, strict=True)]


def _with_vectors(
    words: list[Word], tokens: np.ndarray, offsets: list[tuple[int, int]]
) -> list[Word]:
    """Each word's vector: the normalised mean of the vectors of the pieces inside its span.

    Words past the encoder's length limit have no pieces, hence no vector.
    """
    starts = [w.start for w in words]
    pieces: list[list[int]] = [[] for _ in words]
    for i, (a, b) in enumerate(offsets[: len(tokens)]):
        if b <= a:
            continue  # special tokens
        k = bisect.bisect_right(starts, a) - 1
        if k >= 0 and b <= words[k].end:
            pieces[k].append(i)
    out = []
    for word, idx in zip(words, pieces, strict=True):
        vector = None
        if idx:
            mean = tokens[idx].mean(axis=0)
            norm = float(np.linalg.norm(mean))
            vector = mean / norm if norm else None
        out.append(Word(word.stem, word.start, word.end, vector))
    return out


_REQUEST_NOUNS = frozenset(stem(["article", "document", "documents", "text", "author", "authors"]))
"""Request words that name the document or its author: when the question names the
document by its title and asks nothing else, they are what it asks for."""
_DOCUMENT_KINDS = frozenset(stem(["guide", "guides", "howto", "manual", "tutorial"]))
"""Words that name a kind of document ("the Descriptor HowTo *guide*"): like "article",
they describe the asking, but are not asked for."""
_AUTHORSHIP = frozenset(stem(["write", "writes", "wrote", "written"]))
"""Verbs of writing: "Who wrote the Logging HOWTO?", of a document named by its title and
nothing else, asks for its author, as "Who is the author of ...?" does ("authored" stems
to "author", a request noun already)."""
AUTHOR = stem(["author"])[0]
_REQUEST_WORDS = (
    _REQUEST_NOUNS
    | _DOCUMENT_KINDS
    | _AUTHORSHIP
    | frozenset(
        stem(
            """say says said tell mention mentions mentioned explain describe summarise summarize
        according discuss discusses discussed""".split()  # noqa: SIM905
        )
    )
)
"""Words that describe the asking, not the subject: "What does the article say about
Poland?" asks about Poland, and no sentence needs to say "article" to answer it."""


def asks_for_author(text: str) -> bool:
    """Whether ``text`` holds a verb of writing (:data:`_AUTHORSHIP`), or says "author"."""
    return any(w.stem in _AUTHORSHIP | {AUTHOR} for w in content_words(text))


_WHO = re.compile(r"\s*who\b", re.IGNORECASE)


def asks_who_wrote(text: str) -> bool:
    """Whether ``text`` asks who wrote something: "Who wrote ...?", "Who is the author of
    ...?" (not "What does the author of ... say about levels?")."""
    return bool(_WHO.match(text)) and asks_for_author(text)


POINTING = re.compile(
    r"\b(?:otherwise|similar(?:ly)?|likewise|something|anything|someone|anyone|instead(?!\s+of)"
    r"|(?<=what )else|(?<=who )else|(?<=where )else|(?<=how )else)\b",
    re.IGNORECASE,
)
"""Words that point to something said before, as a pronoun does: "Who claimed otherwise?",
"When was something similar considered?", "What will the army focus on instead?". What they
point to is in the conversation, not in the sentence that answers."""


def question_parts(
    text: str, words: list[Word], titled: frozenset[str] = frozenset()
) -> list[list[Word]]:
    """The question's subject words, and each sentence's if it has several.

    Request words ("article", "say", "explain") and words that point back
    (:data:`POINTING`) are left out unless nothing else is left; when only the
    ``titled`` stems are (the title of a document the question names), the
    request nouns stay: "Who is the author of the Regular Expression HOWTO?"
    asks for its author, and so does "Who wrote the Logging HOWTO?" (a verb of writing
    counts as the word "author"; no sentence needs to say "wrote"). They stay, too, when
    a question about a named document asks for its author beside other words: "Who is the
    author of the Python Socket Programming HOWTO?" asks for the author, not for the
    HOWTO's sentences that say "Python". Coverage is
    judged on the best-supported part, so "Explain X. Give examples of Y." is
    not judged by its weaker half.
    """
    pointing = {m.start() for m in POINTING.finditer(text)}
    subject = [w for w in words if w.stem not in _REQUEST_WORDS and w.start not in pointing]
    if subject and (
        all(w.stem in titled for w in subject)
        or (any(w.stem in titled for w in subject) and asks_who_wrote(text))
    ):
        subject = [
            replace(w, stem=AUTHOR) if w.stem in _AUTHORSHIP else w
            for w in words
            if w in subject or w.stem in _REQUEST_NOUNS | _AUTHORSHIP
        ]
    words = subject or words
    spans = split_sentences(text)
    if len(spans) < 2:
        return [words]
    parts = [[w for w in words if a <= w.start < b] for a, b in spans]
    return [words] + [p for p in parts if p]


def coverage(
    question: Sequence[Word],
    found: set[str],
    evidence: Sequence[Word],
    idf: Callable[[str], float],
) -> float:
    """IDF-weighted share of ``question``'s words stated by the evidence, in [0, 1].

    A word whose stem is in ``found`` counts 1; any other counts its best
    cosine (floored at 0) to a word of ``evidence`` that has a vector.
    """
    unique = {w.stem: w for w in reversed(question)}  # first occurrence of each stem
    if not unique:
        return 0.0
    vectors = [w.vector for w in evidence if w.vector is not None]
    matrix = np.stack(vectors) if vectors else None
    total = covered = 0.0
    for word in unique.values():
        weight = idf(word.stem)
        total += weight
        if word.stem in found:
            covered += weight
        elif word.vector is not None and matrix is not None:
            covered += weight * max(0.0, float((matrix @ word.vector).max()))
    return covered / total
