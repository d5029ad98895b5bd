"""Hybrid sentence retrieval: dense (Chroma) and BM25 (SQLite FTS5), fused by reciprocal rank.

Sentences are the unit of retrieval because they are the unit of citation,
and because it measured best: on the BlockchainSolana set, the page of the
gold context is among the top 3 sentences for 0.95 of questions with RRF of
dense and BM25 sentence rankings, against 0.88 dense alone, 0.90 BM25 alone,
and 0.90 when passage-level similarity is fused in as well (see README).

Dense hits are kept only for the document versions the replica holds (the
ones whose writes were logged), so rows of a write in progress, or of one
whose writer was killed midway, are never cited.

A question costs the answer, not the store: one version check (made by the
caller, ``Asker.check``: the replica catches up by delta only when the store
changed), one dense query, one BM25
query over the on-disk index, and the stored vectors of the few BM25 hits
the dense query did not return.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from footnotes.index.coverage import asks_for_author, asks_who_wrote
from footnotes.index.embedding import single_thread
from footnotes.index.lexical import content_spans, stem, tokenize
from footnotes.index.replica import Replica
from footnotes.index.store import SentenceHit
from footnotes.ingest.passages import embedding_text
from footnotes.settings import Settings

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding

RRF_K = 60
_CLAUSE_BREAK = re.compile(r"\s*(?:[,;:()\u2013\u2014]|\s-\s)\s*")
CLAUSE_WORDS = 5
"""A clause shorter than this is joined to the one before it."""


def without_words(text: str, stems: set[str]) -> str:
    """``text`` without its words whose stem is in ``stems``: "Who is the author of the
    Regular Expression HOWTO?" without its title's is "Who is the author of the ?"."""
    kept, at = [], 0
    for start, end, word in content_spans(text):
        if set(stem([word])) & stems:
            kept.append(text[at:start])
            at = end
    return " ".join("".join([*kept, text[at:]]).split())


def clauses(sentence: str) -> list[str]:
    """The clauses of a long sentence (cut at commas, semicolons, colons, dashes and
    brackets, each of at least :data:`CLAUSE_WORDS` words) and each pair of neighbours,
    which keeps an apposition with its name ("X, the Secretary of Y"). A sentence of
    one clause has none: its own vector already says it."""
    pieces: list[str] = []
    for part in _CLAUSE_BREAK.split(sentence):
        if pieces and len(pieces[-1].split()) < CLAUSE_WORDS:
            pieces[-1] = f"{pieces[-1]}, {part}"
        elif part:
            pieces.append(part)
    if len(pieces) > 1 and len(pieces[-1].split()) < CLAUSE_WORDS:
        pieces[-2:] = [f"{pieces[-2]}, {pieces[-1]}"]
    if len(pieces) < 2:
        return []
    if len(pieces) == 2:  # the pair would be the sentence again
        return pieces
    return pieces + [f"{a}, {b}" for a, b in itertools.pairwise(pieces)]


@dataclass(frozen=True)
class Retrieval:
    """Fused sentence hits, best first, and what the answer needs to judge them."""

    hits: list[SentenceHit]
    idf: Callable[[str], float]
    """Inverse document frequency of a stemmed word in the collection's sentences."""
    following: dict[str, SentenceHit]
    """For each hit, the next sentence of its passage, if there is one."""
    clause_similarity: Callable[[list[str]], list[float]] | None = None
    """The query's best cosine to a clause of each text (:func:`clauses`), by the encoder."""
    named: frozenset[str] = frozenset()
    """The documents the query names by their title (``LexicalIndex.named``)."""
    preceding: dict[str, SentenceHit] = field(default_factory=dict)
    """For each hit, the sentence before it in its passage, if there is one."""
    second_reading: Callable[[list[SentenceHit]], list[float]] | None = None
    """The query's cosine to each hit read the other way from its stored vector, by the
    encoder: with its document's title and section heading (``passages.embedding_text``)
    when the store holds sentences embedded alone (the default), alone when it holds them
    read so (``Settings.embed_context``). A title line reads the same either way."""


def fuse(first: Retrieval, second: Retrieval, k: int) -> Retrieval:
    """Two retrievals of one question (read in its conversation and alone) as one, by
    reciprocal rank; a sentence keeps its better dense and lexical score of the two."""
    fused: dict[str, float] = {}
    best: dict[str, SentenceHit] = {}
    for retrieval in (first, second):
        for rank, hit in enumerate(retrieval.hits):
            fused[hit.id] = fused.get(hit.id, 0.0) + 1.0 / (RRF_K + rank + 1)
            seen = best.get(hit.id)
            if seen is None:
                best[hit.id] = hit
            else:
                best[hit.id] = replace(
                    seen, dense=max(seen.dense, hit.dense), lexical=max(seen.lexical, hit.lexical)
                )
    ranked = sorted(fused, key=lambda i: -fused[i])[:k]
    return replace(
        first,
        hits=[replace(best[i], score=fused[i]) for i in ranked],
        following={**second.following, **first.following},
        named=first.named | second.named,
        preceding={**second.preceding, **first.preceding},
    )


class Retriever:
    """Retrieves sentences for a query from one collection.

    The caller keeps the replica current (``Replica.refresh``) before asking,
    so that a question reads the store's version once, not once per step.
    """

    def __init__(self, replica: Replica, embed_model: BaseEmbedding, settings: Settings) -> None:
        self.replica = replica
        self.embed_model = embed_model
        self.settings = settings

    def retrieve(self, query: str, k: int = 20) -> Retrieval:
        """The ``k`` best sentences for ``query``, each with dense, lexical and fused scores.

        A query that names a document by its title ("Who is the author of the Regular
        Expression HOWTO?") is read a second time without the title's words, within that
        document, and the two readings are fused (:func:`fuse`): every sentence there is
        about its title, so what tells them apart is the rest ("Who is the author of?"),
        which the whole question's vector hardly holds. A question asking who wrote a
        document it describes instead of naming ("Who wrote the HOWTO on fetching internet
        resources with urllib?") is read so as naming the best sentence's document."""
        whole = self._search(query, k)
        named = self.replica.lexical.named(query)
        if not named and whole.hits and asks_who_wrote(query):
            # "Who wrote the HOWTO on fetching internet resources?" describes its document
            # instead of naming it by title: the best sentence's is the one it is about,
            # read as if named ("HOWTO Fetch Internet Resources Using The urllib Package").
            best = whole.hits[0]
            named = {best.document_id: frozenset(tokenize(best.title))}
        if not named:
            return whole
        rest = without_words(query, set().union(*named.values()))
        if asks_for_author(rest):  # "Who wrote the ?" asks for the ":Author:" line
            # (so does "Who is the author of the ?", which then asks for it twice)
            rest = f"{rest} author"
        if not tokenize(rest):
            return replace(whole, named=frozenset(named))
        within = self._search(rest, k, within=sorted(named))
        return replace(fuse(whole, within, k), named=frozenset(named))

    def _search(self, query: str, k: int, within: list[str] | None = None) -> Retrieval:
        """Dense and BM25 hits for ``query`` fused by rank; ``within``: only in those documents."""
        store, lexical = self.replica.store, self.replica.lexical
        depth = max(k, self.settings.candidates)
        with single_thread():
            embedding = self.embed_model.get_query_embedding(query)
        dense_hits = self._current(store.search_sentences(embedding, depth, within))
        lexical_hits = lexical.search_words(tokenize(query), depth, within or ())

        fused: dict[str, float] = {}
        by_id: dict[str, SentenceHit] = {}
        for ranking in (dense_hits, lexical_hits):
            for rank, hit in enumerate(ranking):
                fused[hit.id] = fused.get(hit.id, 0.0) + 1.0 / (RRF_K + rank + 1)
                by_id.setdefault(hit.id, hit)
        lexical_score = {h.id: h.lexical for h in lexical_hits}
        dense_score = {h.id: h.dense for h in dense_hits}
        missing = [i for i in by_id if i not in dense_score]
        if missing:
            vectors = store.sentence_embeddings(missing)
            query_vec = np.asarray(embedding, dtype=np.float32)
            for sid, vec in zip(missing, vectors):
                if not vec:  # removed from the store since the index last caught up
                    fused.pop(sid, None)
                    continue
                dense_score[sid] = float(np.dot(vec, query_vec))
        ranked = sorted(fused, key=lambda i: -fused[i])[:k]
        hits = [
            replace(
                by_id[i],
                dense=dense_score.get(i, 0.0),
                lexical=lexical_score.get(i, 0.0),
                score=fused[i],
            )
            for i in ranked
        ]
        query_vector = np.asarray(embedding, dtype=np.float32)
        known: dict[str, float] = {}

        def clause_similarity(texts: list[str]) -> list[float]:
            new = [t for t in dict.fromkeys(texts) if t not in known]
            pieces = [clauses(t) for t in new]
            flat = [p for ps in pieces for p in ps]
            scores = np.zeros(0, dtype=np.float32)
            if flat:
                with single_thread():
                    vectors = np.asarray(self.embed_model.get_text_embedding_batch(flat))
                scores = vectors @ query_vector
            at = 0
            for text, ps in zip(new, pieces):
                known[text] = float(scores[at : at + len(ps)].max()) if ps else 0.0
                at += len(ps)
            return [known[t] for t in texts]

        read: dict[str, float] = {}
        stored_in_context = self.settings.embed_context

        def second_reading(wanted: list[SentenceHit]) -> list[float]:
            # A sentence with no title or heading to add reads as its stored vector: its
            # own dense score, not encoded and not cached (a hit standing in for a heading
            # carries the heading's).
            unread: dict[str, str] = {}
            for h in wanted:
                if h.id not in read and (framed := embedding_text(h, h.text)) != h.text:
                    unread[h.id] = h.text if stored_in_context else framed
            if unread:
                with single_thread():
                    vectors = self.embed_model.get_text_embedding_batch(list(unread.values()))
                read.update(zip(unread, map(float, np.asarray(vectors) @ query_vector)))
            return [read.get(h.id, h.dense) for h in wanted]

        return Retrieval(
            hits,
            lexical.idf_function(),
            lexical.following([h.id for h in hits]),
            clause_similarity,
            preceding=lexical.preceding([h.id for h in hits]),
            second_reading=second_reading,
        )

    def _current(self, hits: list[SentenceHit]) -> list[SentenceHit]:
        """The dense hits of the document versions the replica holds. The rows of a version
        not yet logged (being written, or left by a writer killed midway) are not citable:
        their document's record and text may still be the older version's."""
        known = self.replica.lexical.content_hashes(sorted({h.document_id for h in hits}))
        return [h for h in hits if known.get(h.document_id) == h.content_hash]
