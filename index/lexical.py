"""The lexical side of retrieval: BM25 over sentences (``bm25s``), plus IDF.

The index is derived data: it is rebuilt in memory from the texts the store
already holds (no embedding involved), whenever the store's catalogue
changes. So it is always in step with ingest, update and remove, works the
same with an embedded store and a Chroma server, and survives a restart.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
# fmt: off
STOPWORDS = frozenset(
    """a an the and or but if of to in on at by for with from as is are was were be been
    being do does did done have has had having it its this that these those there here
    what which who whom whose when where why how i you he she we they me him her us them
    my your his our their not no so than then too very can could should would will
    shall may might must about into over under again further once any all both each few
    more most other some such only own same just also up down out off s t one""".split()  # noqa: SIM905
)
# fmt: on


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def stem(words: list[str]) -> list[str]:
    """The English (Snowball) stems of lower-cased ``words``."""
    return list(_stemmer().stemWords(words))


def content_spans(text: str) -> list[tuple[int, int, str]]:
    """Each content word of ``text``: its span, and the word lower-cased (stopwords dropped).

    Words are found first and lower-cased one by one: lower-casing the whole
    text first would let a letter whose lower case is longer ("İ" becomes
    "i" and a combining dot) split a word in two.
    """
    spans = []
    for match in _WORD.finditer(text):
        word = match.group().lower()
        if word not in STOPWORDS:
            spans.append((match.start(), match.end(), word))
    return spans


def tokenize(text: str) -> list[str]:
    """Lower-cased, stemmed content words of ``text``."""
    return stem([word for _, _, word in content_spans(text)])


class LexicalIndex:
    """BM25 over a fixed list of texts, addressed by position."""

    def __init__(self, texts: Sequence[str]) -> None:
        import bm25s

        self.size = len(texts)
        corpus = [tokenize(t) for t in texts]
        self._bm25 = bm25s.BM25()
        if self.size:
            self._bm25.index([toks or ["\u2205"] for toks in corpus], show_progress=False)
        df: Counter[str] = Counter()
        for toks in corpus:
            df.update(set(toks))
        self._df = df

    def idf(self, token: str) -> float:
        """Smoothed inverse document frequency; high for words the corpus rarely uses."""
        return math.log(1 + (self.size + 1) / (self._df.get(token, 0) + 0.5))

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every text for ``query`` (zeros when no query word is known)."""
        known = [t for t in tokenize(query) if t in self._bm25.vocab_dict] if self.size else []
        if not known:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(known), dtype=np.float32)
