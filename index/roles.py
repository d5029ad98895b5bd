"""Whether a sentence swaps who does what to whom in the quotes it cites.

One of the rules of :func:`index.verify.check`, hand-written for the reason
:mod:`index.verify` gives. A sentence is **unsupported** when it swaps who does
what to whom: two actors of a clause (names, and words of a phrase a determiner
or preposition opens) stand in one clause of a quote in the reverse order, with
the same verb between them in both (or "rather than"), or any verb when one
sentence is a passive with "by" (read in active order: "X was asked by Y" is "Y
asked X"); a coordination ("A and B") and a passive without an agent ("X is
embodied in Y") are left alone; or it puts an actor that its quotes name
elsewhere where a quote clause has another before the same words ("*Belarus's*
Strategic Missile Forces" against "*Russia's* ...", "the *notary* nodes are in
charge" against "the *working* nodes ..."). Actors match by stem or by root, so
a demonym is its country (:func:`same_root`, which the names rule of
:mod:`index.verify` uses too).

The rules read word order, not syntax (no parser or tagger is on this
machine): a verb is a word after an auxiliary, a modal or "to", or the first
-s / -ed form after a noun, and clauses are cut at commas, semicolons,
brackets, "while", "but".

What they cannot catch: a swap across clauses or commas ("Minsk will demand,
under the agreement, that Moscow ..." is caught only because the aside is
short), and a swap the words keep in order ("the army may support Russian
forces" against "the army, with support from Russian forces"). They flag,
wrongly, a converse verb that reverses the order ("the domain includes the
territory" against "the territory is part of the domain"), a reduced relative
clause ("the environment the EVM creates"), and a word of a faithful claim that
a quote clause replaces with a synonym before the same words ("*possible*
deployment" against "*potential* deployment").

Measured by ``benchmarks/verify.py`` with the rest of the check (its figures are
in :mod:`index.verify`): on the held-out claims the actor rules catch 20 of the
25 swaps, at the cost of five false alarms (four by the "puts" rule, which the
tuning set had too few cases to bound).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from footnotes.index.lexical import STOPWORDS, stem

_CLAUSE_BREAK = re.compile(
    r",(?!\s*rather than)|[;:()\[\]\u2013\u2014]|(?<=[.!?])\s+|\s-\s"
    r"|\b(?:while|whereas|but|and that|because)\b",
    re.IGNORECASE,
)
_ASIDE = re.compile(r",\s*(?:[^\W\d_]+\s+){1,3}[^\W\d_]+\s*,")
_TOKEN = re.compile(r"[^\W_]+(?:[\u2019'][^\W_]+)?")
_BE = frozenset(["is", "are", "was", "were", "be", "been", "being"])
_IRREGULAR = frozenset([
    "made", "done", "held", "led", "set", "put", "sent", "built", "run", "shown", "known",
    "given", "taken", "chosen", "seen", "paid", "kept", "brought", "thought", "found", "told",
    "sold", "won", "met", "left", "said", "understood",
])  # fmt: skip
_AGENT_ENDS = frozenset([
    "in", "on", "at", "for", "to", "from", "with", "under", "during", "after", "before",
    "into", "over", "against", "since", "until", "through", "via", "than", "as", "while",
])  # fmt: skip
_COORDINATORS = frozenset(["and", "or", "nor"])
_DETERMINERS = frozenset([
    "the", "a", "an", "its", "their", "his", "her", "our", "this", "these", "those", "each",
    "every", "all", "one", "any", "some", "both", "such", "other", "another", "different",
])  # fmt: skip
# Not "in", "at", "on", "during": a place or a time moves freely in a sentence.
_OPENERS = _DETERMINERS | frozenset([
    "of", "to", "from", "into", "with", "by", "via", "through", "than", "for", "over",
    "against", "between", "among",
])  # fmt: skip
_AUXILIARIES = frozenset([
    "is", "are", "was", "were", "be", "been", "being", "has", "have", "had", "will", "would",
    "could", "can", "may", "might", "must", "should", "shall", "does", "did", "do", "to",
])  # fmt: skip
_ADVERBS = frozenset([
    "long", "already", "now", "also", "still", "just", "often", "never", "always", "first",
    "later", "previously", "only", "not", "then", "even",
])  # fmt: skip
_CONTRASTS = frozenset(["than", "instead"])  # "A rather than B" orders A and B too
_RELATIVES = frozenset(["which", "who"])
_SUFFIXES = ("ians", "ian", "ean", "ese", "ish", "land", "ic", "an", "ia", "i", "y", "e", "a", "s")


@dataclass(frozen=True)
class _Token:
    word: str  # as written
    key: str  # stem, lower-cased
    root: str

    @property
    def lower(self) -> str:
        return self.word.lower()


def _clauses(text: str) -> list[list[_Token]]:
    """``text`` split into clauses (at commas, semicolons, brackets, "while", "but" ...),
    each a list of its words in the order of an active sentence: the agent of a passive
    ("X was asked by Y") comes first, then the verb, then the subject ("Y asked X"). A
    relative clause ("X, which ...") starts with the word it is about."""
    out: list[list[_Token]] = []
    text = _ASIDE.sub(" ", text)  # nor is a short aside ", under the agreement,"
    for piece in _CLAUSE_BREAK.split(text):
        words = _TOKEN.findall(piece)
        if not words:
            continue
        stems = stem([w.lower() for w in words])
        tokens = [_Token(w, s, root(w)) for w, s in zip(words, stems)]
        if tokens[0].lower in _RELATIVES and out:
            about = [t for t in out[-1] if t.lower not in STOPWORDS and not t.word.isdigit()]
            tokens = about[-1:] + tokens[1:]
        out.append(_active(tokens))
    return out


def _active(tokens: list[_Token]) -> list[_Token]:
    lower = [t.lower for t in tokens]
    for by in (i for i, w in enumerate(lower) if w == "by"):
        for be in range(by - 1, -1, -1):
            if lower[be] not in _BE:
                continue
            verb = next((k for k in range(be + 1, min(be + 4, by)) if _participle(lower[k])), None)
            if verb is None:
                break
            end = len(tokens)
            for k in range(by + 1, len(tokens)):
                ends_and = lower[k] in _COORDINATORS and k + 1 < end and lower[k + 1] in STOPWORDS
                if lower[k] in _AGENT_ENDS or ends_and:
                    end = k
                    break
            return [
                *tokens[by:end],
                *tokens[be : verb + 1],
                *tokens[:be],
                *tokens[verb + 1 : by],
                *tokens[end:],
            ]
    return tokens


def _participle(word: str) -> bool:
    return word.endswith(("ed", "en")) or word in _IRREGULAR


def _same(a: _Token, b: _Token) -> bool:
    return a.key == b.key or same_root(a.root, b.root)


def _anchors(clause: list[_Token]) -> list[int]:
    """Where ``clause`` names an actor: a capitalised word, or a word of a phrase that a
    determiner or preposition opens ("the notary nodes", "via transactions")."""
    out = []
    for i, t in enumerate(clause):
        if t.lower in STOPWORDS or t.lower in _ADVERBS or t.word.isdigit():
            continue
        if t.lower.endswith("ly") or _verb_like(clause, i):
            continue
        if t.word[0].isupper():
            out.append(i)
            continue
        for k in range(i - 1, max(-1, i - 4), -1):
            if clause[k].lower in _OPENERS:
                out.append(i)
                break
            if clause[k].lower in STOPWORDS:
                break
    return out


def _verb_like(clause: list[_Token], i: int) -> bool:
    """Whether ``clause[i]`` reads as a verb: after an auxiliary, a modal or "to" (an
    adverb between allowed), or an -s / -ed form after a noun ("spending *threatens*")."""
    word = clause[i].lower
    if clause[i].word[0].isupper() or word in STOPWORDS or word in _ADVERBS:
        return False
    k = i - 1
    while k >= 0 and (clause[k].lower in _ADVERBS or clause[k].lower.endswith("ly")):
        k -= 1
    previous = clause[k].lower if k >= 0 else ""
    if previous in _AUXILIARIES:
        return not word.endswith("ly")
    return i == _finite_verb(clause)


def _finite_verb(clause: list[_Token]) -> int:
    """Where the first -s / -ed form after a noun stands ("spending *threatens* the
    Union", "Proof of Work *rewards* nodes"), -1 if none or an auxiliary comes first: the
    one word a clause without an auxiliary is likely to have as its verb."""
    for i in range(1, len(clause)):
        word, previous = clause[i].lower, clause[i - 1].lower
        if previous in _AUXILIARIES:
            return -1
        if (
            previous not in STOPWORDS
            and not clause[i].word[0].isupper()
            and word not in STOPWORDS
            and len(word) > 3
            and word.endswith(("s", "ed"))
            and not word.endswith(("ss", "us", "is"))
        ):
            return i
    return -1


def swapped_roles(text: str, quotes: Sequence[str]) -> str:
    """Why the claim ``text`` swaps who does what to whom in its ``quotes``, or "".

    Both are read without citation markers (the caller strips them: a "[16]" is not a
    clause). Reversed: two actors of a clause of the claim (:func:`_anchors`) stand in the
    other order in every quote clause that has both, with a pivot between them in
    both sentences (:func:`_order`), and neither sentence coordinates them ("A and
    B"). Substituted: a quote clause has another actor where the claim has one
    that the quotes name elsewhere (:func:`_substitute`). Clauses are compared in
    active order, so "X was asked by Y" reads as "Y asked X"."""
    evidence = [c for q in quotes for c in _clauses(q)]
    for clause in _clauses(text):
        anchors = _anchors(clause)
        for x, i in enumerate(anchors):
            for j in anchors[x + 1 :]:
                a, b = clause[i], clause[j]
                if _same(a, b) or _coordinated(clause, i, j):
                    continue
                between = (clause, i, j)
                verdicts = [v for q in evidence if (v := _order(q, a, b, between)) is not None]
                if verdicts and all(v == "reversed" for v in verdicts):
                    return (
                        f"reverses “{a.word}” and “{b.word}” against its quotes "
                        "(who does what to whom)"
                    )
        for i in anchors:
            other = _substitute(clause, i, evidence)
            if other:
                return (
                    f"puts “{clause[i].word}” where its quote has “{other}” (who does what to whom)"
                )
    return ""


def _substitute(clause: list[_Token], i: int, evidence: list[list[_Token]]) -> str:
    """The word a quote clause has where the claim has ``clause[i]``, followed by the same
    words up to a content word ("*Belarus's* Strategic" against "*Russia's* Strategic"),
    when the claim's word is elsewhere in the quotes but not in that clause; or ""."""
    a = clause[i]
    following = clause[i + 1 : i + 4]
    content = next((k for k, t in enumerate(following) if t.lower not in STOPWORDS), None)
    if content is None:
        return ""
    following = following[: content + 1]
    if not any(_same(t, a) for q in evidence for t in q):
        return ""
    for quote in evidence:
        if any(_same(t, a) for t in quote):
            continue
        for k in range(len(quote) - len(following)):
            c = quote[k]
            after = quote[k + 1 : k + 1 + len(following)]
            if c.lower in STOPWORDS or c.word.isdigit() or _same(c, a):
                continue
            if not all(x.key == y.key for x, y in zip(after, following)):
                continue
            if c.word[0].isupper() != a.word[0].isupper():  # a name for a name
                named = quote[k - 1] if k and a.word[0].isupper() else None
                if named is None or not named.word[0].isupper() or _same(named, a):
                    continue
                c = named  # "Ethereum blockchain has": the name, not its noun
            return c.word
    return ""


def _order(
    clause: list[_Token], a: _Token, b: _Token, between: tuple[list[_Token], int, int]
) -> str | None:
    """How ``clause`` orders ``a`` and ``b`` against the claim (``between``: the claim's
    clause and the places of ``a`` and ``b`` in it, ``a`` first).

    "reversed": every ``b`` precedes every ``a``, and a word stands between them in both
    that is a verb (or "than") in one of them, or any verb stands between them in both
    when one of them is a passive with "by".
    "same": ``a`` precedes ``b``, or they are coordinated. None: the clause lacks one of
    them or mixes them, or only one of the two is a passive without an agent."""
    at = [i for i, t in enumerate(clause) if _same(t, a)]
    bt = [i for i, t in enumerate(clause) if _same(t, b)]
    if not at or not bt or set(at) & set(bt):
        return None
    if max(at) < min(bt):
        return "same"
    if max(bt) >= min(at):
        return None
    if _coordinated(clause, max(bt), min(at)):
        return "same"
    lo, hi = max(bt), min(at)
    if _only_passive(clause, lo, hi) != _only_passive(*between):
        return None  # "X is embodied in Y" says "Y embodies X": the order says nothing
    verbs, claim_verbs = _pivots(clause, lo, hi), _pivots(*between)
    claim, i, j = between
    shared = {t.key for t in clause[lo + 1 : hi]} & {t.key for t in claim[i + 1 : j]}
    if shared & (verbs | claim_verbs):
        return "reversed"  # a word both put between them, a verb in one (or "than")
    passive = clause[0].lower == "by" or between[0][0].lower == "by"  # see _active
    if passive and verbs and claim_verbs:
        return "reversed"  # "Y was asked by X" against "X requested that Y"
    return None


def _pivots(clause: list[_Token], lo: int, hi: int) -> set[str]:
    """The stems of the verbs, and any "than", between ``clause[lo]`` and ``clause[hi]``."""
    return {
        clause[k].key
        for k in range(lo + 1, hi)
        if clause[k].lower in _CONTRASTS or _verb_like(clause, k)
    }


def _only_passive(clause: list[_Token], lo: int, hi: int) -> bool:
    """Whether the only verb between ``clause[lo]`` and ``clause[hi]`` is a passive with no
    "by" ("the timestamp *is embodied* in the data structure")."""
    if any(t.lower == "by" for t in clause):
        return False
    verbs = [k for k in range(lo + 1, hi) if _verb_like(clause, k)]
    return bool(verbs) and all(
        _participle(clause[k].lower) and any(t.lower in _BE for t in clause[max(0, k - 3) : k])
        for k in verbs
    )


def _coordinated(clause: list[_Token], i: int, j: int) -> bool:
    """Whether ``clause[i]`` and ``clause[j]`` (i < j) are joined by "and" / "or" with at
    most two other words between them ("Russia and Belarus", "A, B or other C")."""
    between = [t.lower for t in clause[i + 1 : j]]
    return len(between) <= 3 and any(w in _COORDINATORS for w in between)


def root(word: str) -> str:
    """``word`` lower-cased, without a possessive or a demonym's ending ("belarus" for
    "Belarusian's")."""
    word = word.lower().replace("\u2019", "'").split("'")[0]
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def same_root(a: str, b: str) -> bool:
    """Whether two word roots name the same thing: one extends the other ("pol" and
    "poland"), or they share all but a letter of the shorter ("norweg" and "norwa")."""
    if min(len(a), len(b)) < 3:
        return False
    if a.startswith(b) or b.startswith(a):
        return True
    common = 0
    for x, y in zip(a, b):
        if x != y:
            break
        common += 1
    return common >= max(4, min(len(a), len(b)) - 1)
