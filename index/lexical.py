"""The lexical side of retrieval: BM25 over sentences in SQLite FTS5, plus IDF.

The index is a file on disk, updated a document at a time: adding,
replacing or removing a document touches only its rows, and a restart opens
the file instead of re-reading the corpus. It is derived data, kept in step
with the store by :mod:`index.replica`; it also holds each sentence's
position, so a hit's next sentence is found without asking the store.

Why SQLite FTS5 (the standard library's ``sqlite3``), measured against the
bm25s index it replaces (``benchmarks/retrieval.py``, README): bm25s builds an
immutable sparse matrix, so every change rebuilt it from every sentence in
memory, in every serving process (over the kernel documentation, 270k
sentences, the rebuild crashed after 52 s at 5 GB, issue #8); FTS5 updates
in place and keeps its postings on disk with SQLite's page cache as the only
memory. FTS5 proposes candidates by its own
``bm25()`` and :meth:`LexicalIndex.search` ranks them by the Lucene BM25
that bm25s used, so the ranking is the one measured before: the same page
hit on BlockchainSolana, BM25 alone and fused (``benchmarks/retrieval.py``,
same run). Words are our own tokens (Snowball stems, stopwords dropped;
:func:`tokenize`), stored as text for FTS5's plain ``unicode61`` tokenizer,
so BM25 and word coverage agree on what a word is. Documents' titles have a
table of their own, so that a question naming one ("... the Logging HOWTO?") is
recognised by one FTS5 query (:meth:`LexicalIndex.named`).
"""

from __future__ import annotations

import math
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from footnotes.index.store import SentenceHit

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


def _capitalised(text: str) -> set[str]:
    """The stems of ``text``'s content words written with a capital."""
    return set(_terms(stem([w for a, _, w in content_spans(text) if text[a].isupper()])))


def _terms(tokens: Iterable[str]) -> list[str]:
    """Tokens as FTS5 ``unicode61`` reads them back: one term each, nothing dropped.

    A stem is letters and digits, but lower-casing can add a combining mark
    (U+0307 after "i") that ``unicode61`` would treat as a separator.
    """
    return [t for t in ("".join(c for c in tok if c.isalnum()) for tok in tokens) if t]


_COLUMNS = "id, document_id, passage_id, position, title, section, page, start, end_, text"

SCHEMA_VERSION = 4
"""Bumped whenever the tables change: an index file of another version is derived data of
an older shape, so it is emptied and rebuilt from the store (``PRAGMA user_version``)."""

NAMED_LIMIT = 2
"""At most this many documents a question names by one title (:meth:`LexicalIndex.named`)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sentences (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    document_id TEXT NOT NULL,
    passage_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    title TEXT NOT NULL,
    section TEXT,
    page INTEGER,
    start INTEGER NOT NULL,
    end_ INTEGER NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sentences_by_document ON sentences (document_id, position);
CREATE VIRTUAL TABLE IF NOT EXISTS terms USING fts5 (tokens, tokenize = 'unicode61');
CREATE VIRTUAL TABLE IF NOT EXISTS vocabulary USING fts5vocab (terms, row);
CREATE VIRTUAL TABLE IF NOT EXISTS titles USING fts5 (
    document_id UNINDEXED, title UNINDEXED, tokens, tokenize = 'unicode61'
);
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY,
    content_hash TEXT NOT NULL,
    embed_model TEXT NOT NULL,
    sentences INTEGER NOT NULL,
    tokens INTEGER NOT NULL,
    reading TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS models (
    embed_model TEXT PRIMARY KEY,
    documents INTEGER NOT NULL,
    sentences INTEGER NOT NULL,
    tokens INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS applied (change_id TEXT PRIMARY KEY, seq INTEGER NOT NULL);
"""


class LexicalIndex:
    """BM25 over the sentences of one collection, in an SQLite file (or in memory).

    Safe to share between threads (one connection per thread, writes
    serialised) and between processes on one machine (SQLite's own locks,
    WAL journal). Every write method is one transaction.
    """

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._write = threading.Lock()
        self._shared: sqlite3.Connection | None = None
        if self.path == ":memory:":  # one connection, or each thread would see its own db
            self._shared = self._connect()
        with self._write:
            db = self._db()
            if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                tables = db.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE "
                    "'sqlite_%' AND name NOT LIKE 'terms_%' AND name NOT LIKE 'titles_%'"
                ).fetchall()
                for (table,) in tables:
                    db.execute(f'DROP TABLE IF EXISTS "{table}"')
            db.executescript(_SCHEMA)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @classmethod
    def of_texts(cls, texts: Sequence[str]) -> LexicalIndex:
        """An in-memory index of ``texts``, sentence ``i`` with id ``str(i)`` (tests)."""
        index = cls()
        rows = [
            SentenceHit(str(i), "", "", i, "", None, None, 0, len(t), t)
            for i, t in enumerate(texts)
        ]
        index.replace_document("", "", "", rows)
        return index

    # --- connections ------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(
            self.path, timeout=60, isolation_level=None, check_same_thread=self.path != ":memory:"
        )
        db.execute("PRAGMA busy_timeout = 60000")
        if self.path != ":memory:":
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
        return db

    def _db(self) -> sqlite3.Connection:
        if self._shared is not None:
            return self._shared
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = self._connect()
        return db

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = self._db()
        with self._write:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.rollback()
                raise
            db.commit()

    # --- writes -----------------------------------------------------------

    def replace_document(
        self,
        document_id: str,
        content_hash: str,
        embed_model: str,
        rows: Iterable[SentenceHit],
        reading: str = "",
    ) -> None:
        """Make the index hold exactly ``rows`` for this document (its current version:
        content hash, model and ``reading``, as ``DocumentRecord.version``)."""
        with self._transaction() as db:
            self._delete(db, document_id)
            count, tokens, title = self._insert(db, rows)
            if title:
                db.execute(
                    "INSERT INTO titles (document_id, title, tokens) VALUES (?, ?, ?)",
                    (document_id, title, " ".join(_terms(tokenize(title)))),
                )
            db.execute(
                "INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?)",
                (document_id, content_hash, embed_model, count, tokens, reading),
            )
            self._count(db, embed_model, 1, count, tokens)

    def remove_document(self, document_id: str) -> None:
        with self._transaction() as db:
            self._delete(db, document_id)

    def mark_applied(self, changes: Iterable[tuple[str, int]], state: dict[str, str]) -> None:
        """Record store changes as applied, and the replica's state that goes with them."""
        with self._transaction() as db:
            db.executemany("INSERT OR IGNORE INTO applied VALUES (?, ?)", changes)
            db.executemany("INSERT OR REPLACE INTO state VALUES (?, ?)", state.items())

    def reset(self) -> None:
        """Forget everything (the store this index followed is not the one it follows now)."""
        with self._transaction() as db:
            for table in (
                "sentences",
                "terms",
                "titles",
                "documents",
                "models",
                "state",
                "applied",
            ):
                db.execute(f"DELETE FROM {table}")

    @staticmethod
    def _count(
        db: sqlite3.Connection, model: str, documents: int, sentences: int, tokens: int
    ) -> None:
        """Keep the totals by model, so no question counts rows."""
        db.execute(
            "INSERT INTO models VALUES (?, ?, ?, ?) ON CONFLICT (embed_model) DO UPDATE SET "
            "documents = documents + excluded.documents, sentences = sentences + "
            "excluded.sentences, tokens = tokens + excluded.tokens",
            (model, documents, sentences, tokens),
        )
        db.execute("DELETE FROM models WHERE documents <= 0")

    @classmethod
    def _delete(cls, db: sqlite3.Connection, document_id: str) -> None:
        old = db.execute(
            "SELECT embed_model, sentences, tokens FROM documents WHERE id = ?", (document_id,)
        ).fetchone()
        if old is None:
            return
        cls._count(db, str(old[0]), -1, -int(old[1]), -int(old[2]))
        db.execute(
            "DELETE FROM terms WHERE rowid IN (SELECT rowid FROM sentences WHERE document_id = ?)",
            (document_id,),
        )
        db.execute("DELETE FROM sentences WHERE document_id = ?", (document_id,))
        db.execute("DELETE FROM titles WHERE document_id = ?", (document_id,))
        db.execute("DELETE FROM documents WHERE id = ?", (document_id,))

    @staticmethod
    def _insert(db: sqlite3.Connection, rows: Iterable[SentenceHit]) -> tuple[int, int, str]:
        """Insert sentence rows; how many, how many tokens they hold, and their document's
        title (every row of a document carries it)."""
        count = tokens = 0
        title = ""
        for r in rows:
            cursor = db.execute(
                f"INSERT OR REPLACE INTO sentences ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (r.id, r.document_id, r.passage_id, r.position, r.title, r.section, r.page,
                 r.start, r.end, r.text),
            )  # fmt: skip
            terms = _terms(tokenize(r.text))
            db.execute(
                "INSERT INTO terms (rowid, tokens) VALUES (?, ?)",
                (cursor.lastrowid, " ".join(terms)),
            )
            count += 1
            title = r.title
            tokens += len(terms)
        return count, tokens, title

    # --- reads ------------------------------------------------------------

    def state(self, key: str) -> str | None:
        got = self._db().execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return None if got is None else str(got[0])

    def applied(self, change_ids: Sequence[str]) -> set[str]:
        """Which of ``change_ids`` were applied already."""
        out: set[str] = set()
        for start in range(0, len(change_ids), _SQL_BATCH):
            part = list(change_ids[start : start + _SQL_BATCH])
            marks = ",".join("?" * len(part))
            got = self._db().execute(
                f"SELECT change_id FROM applied WHERE change_id IN ({marks})",
                part,
            )
            out.update(str(r[0]) for r in got)
        return out

    def documents(self) -> dict[str, tuple[str, str, str]]:
        """Every indexed document's ``(content_hash, embed_model, reading)``: O(documents),
        for checks."""
        got = self._db().execute("SELECT id, content_hash, embed_model, reading FROM documents")
        return {str(i): (str(h), str(m), str(r)) for i, h, m, r in got}

    def content_hashes(self, document_ids: Sequence[str]) -> dict[str, str]:
        """The indexed version (content hash) of each of ``document_ids`` that is indexed."""
        out: dict[str, str] = {}
        for start in range(0, len(document_ids), _SQL_BATCH):
            part = list(document_ids[start : start + _SQL_BATCH])
            marks = ",".join("?" * len(part))
            got = self._db().execute(
                f"SELECT id, content_hash FROM documents WHERE id IN ({marks})", part
            )
            out.update((str(i), str(h)) for i, h in got)
        return out

    def document_version(self, document_id: str) -> tuple[str, str, str] | None:
        """The indexed ``(content_hash, embed_model, reading)`` of a document, if indexed."""
        got = (
            self._db()
            .execute(
                "SELECT content_hash, embed_model, reading FROM documents WHERE id = ?",
                (document_id,),
            )
            .fetchone()
        )
        return None if got is None else (str(got[0]), str(got[1]), str(got[2]))

    def _totals(self) -> tuple[int, int, int]:
        """Documents, sentences and tokens indexed (kept by model: one row each, no count)."""
        got = (
            self._db()
            .execute(
                "SELECT coalesce(sum(documents), 0), coalesce(sum(sentences), 0), "
                "coalesce(sum(tokens), 0) FROM models"
            )
            .fetchone()
        )
        return int(got[0]), int(got[1]), int(got[2])

    def document_count(self) -> int:
        return self._totals()[0]

    def embed_models(self) -> set[str]:
        """The embedding models the indexed documents were embedded with."""
        return {str(m) for (m,) in self._db().execute("SELECT embed_model FROM models")}

    def size(self) -> int:
        """How many sentences are indexed."""
        return self._totals()[1]

    def search(self, query: str, k: int) -> list[SentenceHit]:
        """The ``k`` best sentences for ``query`` by BM25, score in ``lexical`` (none when no
        query word is known).

        FTS5 finds the best :data:`POOL_FACTOR` x ``k`` matches by its own
        ``bm25()`` (k1=1.2, b=0.75, IDF without Lucene's +1), in C over the
        on-disk postings; those are ranked again here by Lucene's BM25
        (k1=1.5, b=0.75; a word asked twice weighs twice), which ranked sentences better
        (BlockchainSolana page hit at top 1 / 5: 0.828 / 0.983, against
        0.793 / 0.966 for FTS5's own order; ``benchmarks/retrieval.py``).
        """
        return self.search_words(tokenize(query), k)

    def search_words(
        self, words: Sequence[str], k: int, within: Sequence[str] = ()
    ) -> list[SentenceHit]:
        """:meth:`search` for a query's words (:func:`tokenize`); ``within``: only these
        documents' sentences."""
        asked = _terms(words)
        terms = sorted(set(asked))
        if not terms or k < 1:
            return []
        db = self._db()
        match = " OR ".join(f'"{t}"' for t in terms)
        only = f" AND s.document_id IN ({','.join('?' * len(within))})" if within else ""
        got = db.execute(
            f"SELECT {_prefixed('s.')}, terms.tokens FROM terms JOIN sentences s "
            f"ON s.rowid = terms.rowid WHERE terms MATCH ?{only} ORDER BY bm25(terms) LIMIT ?",
            (match, *within, k * POOL_FACTOR),
        ).fetchall()
        if not got:
            return []
        _, size, total = self._totals()
        size = max(size, len(got))
        average = max(float(total) / size, 1.0)
        weight = {t: asked.count(t) * self._lucene_idf(t, size) for t in terms}
        scored = []
        for r in got:
            tokens = str(r[-1]).split()
            norm = K1 * (1 - B + B * len(tokens) / average)
            counts: dict[str, int] = {}
            for tok in tokens:
                if tok in weight:
                    counts[tok] = counts.get(tok, 0) + 1
            score = sum(weight[t] * n * (K1 + 1) / (n + norm) for t, n in counts.items())
            scored.append(_row(r, score))
        scored.sort(key=lambda h: -h.lexical)
        return scored[:k]

    def named(self, query: str, limit: int = NAMED_LIMIT) -> dict[str, frozenset[str]]:
        """The documents ``query`` names, each with its title's stems: those whose title's
        every word (stem) it uses, capitalised where the title's is, of the longest such
        titles; none when more than ``limit`` documents share those (many are titled
        "Introduction").

        "Who is the author of the Regular Expression HOWTO?" names the document titled
        "Regular Expression HOWTO"; "a module" does not name the chapter "Modules"."""
        asked = set(_terms(tokenize(query)))
        if not asked:
            return {}
        got = self._db().execute(
            "SELECT document_id, title, tokens FROM titles WHERE titles MATCH ?",
            (" OR ".join(f'"{t}"' for t in sorted(asked)),),
        )
        capitals = _capitalised(query)
        named = {
            str(d): frozenset(str(t).split())
            for d, title, t in got
            if set(str(t).split()) <= asked and _capitalised(str(title)) <= capitals
        }
        longest = max((len(t) for t in named.values()), default=0)
        named = {d: t for d, t in named.items() if len(t) == longest}
        return named if len(named) <= limit else {}

    def _df(self, term: str) -> int:
        got = self._db().execute("SELECT doc FROM vocabulary WHERE term = ?", (term,)).fetchone()
        return int(got[0]) if got else 0

    def _lucene_idf(self, term: str, size: int) -> float:
        df = self._df(term)
        return math.log(1 + (size - df + 0.5) / (df + 0.5))

    def following(self, ids: Sequence[str]) -> dict[str, SentenceHit]:
        """For each sentence id, the next sentence of its passage, where there is one."""
        return self._beside(ids, 1)

    def preceding(self, ids: Sequence[str]) -> dict[str, SentenceHit]:
        """For each sentence id, the sentence before it in its passage, where there is one."""
        return self._beside(ids, -1)

    def _beside(self, ids: Sequence[str], step: int) -> dict[str, SentenceHit]:
        """One query per :data:`_BESIDE_BATCH` ids (a question's 30 candidates: one)."""
        out: dict[str, SentenceHit] = {}
        db = self._db()
        unique = list(dict.fromkeys(ids))
        for at in range(0, len(unique), _BESIDE_BATCH):
            batch = unique[at : at + _BESIDE_BATCH]
            rows = db.execute(
                f"SELECT s.id, {_prefixed('n.')} FROM sentences s JOIN sentences n "
                "ON n.document_id = s.document_id AND n.position = s.position + ? "
                f"WHERE s.id IN ({', '.join('?' * len(batch))}) AND n.passage_id = s.passage_id",
                (step, *batch),
            )
            out.update((str(r[0]), _row(r[1:])) for r in rows)
        return out

    def idf(self, token: str) -> float:
        """Smoothed inverse document frequency; high for words the corpus rarely uses."""
        return self._idf(token, self.size())

    def idf_function(self) -> IdfFunction:
        """An IDF lookup for one question: the sentence count read once, terms cached."""
        return IdfFunction(self, self.size())

    def _idf(self, token: str, size: int) -> float:
        terms = _terms([token])
        df = 0
        if terms:
            got = (
                self._db()
                .execute("SELECT doc FROM vocabulary WHERE term = ?", (terms[0],))
                .fetchone()
            )
            df = int(got[0]) if got else 0
        return math.log(1 + (size + 1) / (df + 0.5))


class IdfFunction:
    """``idf(token)`` of one index at one moment, each term looked up once."""

    def __init__(self, index: LexicalIndex, size: int) -> None:
        self._index = index
        self._size = size
        self._cache: dict[str, float] = {}

    def __call__(self, token: str) -> float:
        if token not in self._cache:
            self._cache[token] = self._index._idf(token, self._size)
        return self._cache[token]


_SQL_BATCH = 500
K1 = 1.5
B = 0.75
POOL_FACTOR = 4
"""FTS5 proposes this many times the matches asked for; Lucene's BM25 picks among them."""


_BESIDE_BATCH = 500
"""Ids a neighbour query binds at most (SQLite allows 32,766 variables)."""


def _prefixed(alias: str) -> str:
    return ", ".join(alias + c.strip() for c in _COLUMNS.split(","))


def _row(r: Sequence[Any], score: float = 0.0) -> SentenceHit:
    return SentenceHit(
        id=str(r[0]),
        document_id=str(r[1]),
        passage_id=str(r[2]),
        position=int(r[3]),
        title=str(r[4]),
        section=None if r[5] is None else str(r[5]),
        page=None if r[6] is None else int(r[6]),
        start=int(r[7]),
        end=int(r[8]),
        text=str(r[9]),
        lexical=score,
    )
