"""Whether a sentence a language model wrote is supported by the quotes it cites.

Hand-written because no well-kept library checks this offline: the tools
people compare Footnotes with check that a cited id exists, fuzzy-match a
quote, or add citations afterwards by similarity, and the packages that judge
entailment need an NLI model or an LLM, whose weights are not on this machine.
The check is built from what the project measures already: word coverage by
stem and by meaning (:mod:`index.coverage`, the encoder's contextual token
vectors), plus rules for what coverage cannot see.

A sentence is **unsupported** when

* it cites nothing but states something (two or more content words);
* it cites a marker that is not in the evidence;
* it states a number, quantity, ordinal or year that none of its quotes states
  ("24" against "forty-two" is caught; "forty-two" against "42" passes);
* it names a person, place, organisation, month or weekday (a capitalised word
  after the first) that none of its quotes names; a demonym matches its
  country by root ("Belarusian" / "Belarus", "Polish" / "Poland");
* it is negated ("not", "never", "unlikely") where no quote is, or it asserts
  without negation what a quote negates (the words after the quote's "not"); it
  says a word's negated form where its quote says the word ("permissionless"
  against "permissioned", "un-", "non-", "-less"); or it restricts ("only",
  "alone", "exclusively") where no quote does;
* it swaps who does what to whom: two actors of a clause (names, and words of a
  phrase a determiner or preposition opens) stand in one clause of a quote in
  the reverse order, with the same verb between them in both (or "rather
  than"), or any verb when one sentence is a passive with "by" (read in active
  order: "X was asked by Y" is "Y asked X"); a coordination ("A and B") and a
  passive without an agent ("X is embodied in Y") are left alone; or it puts an
  actor that its quotes name elsewhere where a quote clause has another before
  the same words ("*Belarus's* Strategic Missile Forces" against "*Russia's*
  ...", "the *notary* nodes are in charge" against "the *working* nodes ...");
* its content words are not covered by the quotes: the IDF-weighted coverage
  is under :data:`SUPPORT_THRESHOLD`, or one of its words is supported by no
  quote word better than :data:`WORD_FLOOR` (an added claim, "a joint *gas*
  market", against a quote of an electricity market).

The actor rules read word order, not syntax (no parser or tagger is on this
machine): a verb is a word after an auxiliary, a modal or "to", or the first
-s / -ed form after a noun, and clauses are cut at commas, semicolons,
brackets, "while", "but".

What it cannot catch: a swap across clauses or commas ("Minsk will demand,
under the agreement, that Moscow ..." is caught only because the aside is
short), a swap the words keep in order ("the army may support Russian forces"
against "the army, with support from Russian forces"), a capitalised name that
opens the sentence (checked only for meaning), a paraphrase that changes meaning
with the same words ("could" against "will"), a negation by other words
("means" against "does not imply"), and an unsupported inference whose words
all appear in the quotes. It flags, wrongly, a converse verb that reverses the
order ("the domain includes the territory" against "the territory is part of
the domain"), a reduced relative clause ("the environment the EVM creates"), and
a word of a faithful claim that a quote clause replaces with a synonym before
the same words ("*possible* deployment" against "*potential* deployment").

Measured by ``benchmarks/verify.py`` (224 labelled claims; unsupported is the
positive class). Tuned on ``claims-tune*`` (71 on the sample article, 41 on the
Solana paper): 52 of 54 faithful claims passed (0.963), 53 of 58 corrupted ones
caught (recall 0.914), precision 0.964. Held out, written before any tuning and
run once after it (32 on the article, 40 on the paper, 40 on invented texts): 42
of 49 faithful passed (0.857), 57 of 63 corrupted caught (0.905), precision
0.891; per corpus, faithful passed / corrupted caught: article 12/15 and 12/17,
paper 15/18 and 21/22, invented 15/16 and 24/24. Before the actor, affix and
"only" rules the same held-out set gave 47/49 and 38/63: the actor rules catch
20 of its 25 swaps, at the cost of five false alarms there (four by the "puts"
rule, which the tuning set had too few cases to bound).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from footnotes.index.coverage import Word, WordsOf
from footnotes.index.lexical import STOPWORDS, stem
from footnotes.ingest.sentences import split_sentences

SUPPORT_THRESHOLD = 0.6
"""IDF-weighted share of a sentence's content words its quotes must cover."""
WORD_FLOOR = 0.25
"""Every content word must match some quote word at least this well (1 for its stem)."""

_MARKERS = re.compile(r"\s*\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")
_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip
_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "twentieth": 20,
    "thirtieth": 30, "fortieth": 40, "fiftieth": 50, "hundredth": 100,
}  # fmt: skip
_SCALES = {"hundred", "thousand", "million", "billion", "trillion", "dozen", "half", "quarter"}
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*(?:st|nd|rd|th)?|[A-Za-z]+(?:-[A-Za-z]+)?", re.IGNORECASE)
_NEGATIONS = frozenset(
    ["not", "no", "never", "none", "neither", "nor", "without", "cannot", "unlikely"]
)
_NEGATION = re.compile(
    r"\b(?:\w+n[\u2019']t|" + "|".join(sorted(_NEGATIONS)) + r")\b", re.IGNORECASE
)
_RESTRICTORS = re.compile(r"\b(?:only|alone|exclusively|solely|merely)\b", re.IGNORECASE)
_CAPITALISED = re.compile(r"\b[A-Z][\w\u2019'-]*")
_WORD = re.compile(r"[^\W_]+")
# fmt: off
_MONTHS = frozenset([
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december",
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
])
# fmt: on
_SUFFIXES = ("ians", "ian", "ean", "ese", "ish", "land", "ic", "an", "ia", "i", "y", "e", "a", "s")


@dataclass(frozen=True)
class Claim:
    """One sentence of a written answer: its text without markers, and the markers."""

    text: str
    markers: tuple[int, ...]
    written: str  # as the model wrote it, markers included


@dataclass(frozen=True)
class Verdict:
    """Whether a claim is supported, and if not, why (one line)."""

    supported: bool
    reason: str = ""
    coverage: float = 0.0


def claims(answer: str) -> list[Claim]:
    """The sentences of ``answer``, each with the markers ``[n]`` / ``[n, m]`` it carries.

    Markers written after a sentence's full stop ("... Minsk. [1] Next ...")
    belong to that sentence, not to the next one.
    """
    spans = split_sentences(answer)
    pieces = [answer[a:b] for a, b in spans]
    out: list[tuple[str, list[int]]] = []
    for piece in pieces:
        leading = _MARKERS.match(piece)
        if leading and out:  # markers that open a sentence close the previous one
            out[-1][1].extend(_numbers(leading.group(1)))
            piece = piece[leading.end() :]
        markers = [n for m in _MARKERS.finditer(piece) for n in _numbers(m.group(1))]
        if piece.strip() or not out:
            out.append((piece, markers))
    result = []
    for written, markers in out:
        text = " ".join(_MARKERS.sub("", written).split())
        text = re.sub(r"\s+([.,;:!?])", r"\1", text)
        if text or markers:
            result.append(Claim(text, tuple(dict.fromkeys(markers)), written.strip()))
    return result


def _numbers(group: str) -> list[int]:
    return [int(n) for n in re.findall(r"\d+", group)]


def verify(
    claim: Claim,
    evidence: Mapping[int, str],
    words_of: WordsOf,
    idf: Callable[[str], float],
) -> Verdict:
    """Check ``claim`` against the evidence lines it cites (``evidence``: marker -> quote)."""
    missing = [n for n in claim.markers if n not in evidence]
    if missing:
        return Verdict(False, f"cites [{missing[0]}], which is not among the evidence")
    if not claim.markers:
        if len(_content(claim.text)) >= 2:
            return Verdict(False, "states something but cites nothing")
        return Verdict(True)
    return check(claim.text, [evidence[n] for n in claim.markers], words_of, idf)


def check(
    text: str,
    quotes: Sequence[str],
    words_of: WordsOf,
    idf: Callable[[str], float],
    threshold: float = SUPPORT_THRESHOLD,
    floor: float = WORD_FLOOR,
) -> Verdict:
    """Whether ``quotes`` support the sentence ``text`` (see the module docstring)."""
    joined = " ".join(quotes)
    numbers = _quantities(text) - _quantities(joined)
    if numbers:
        return Verdict(False, f"states {sorted(numbers)[0]}, which none of its quotes states")
    names = _unmatched_names(text, joined)
    if names:
        return Verdict(False, f"names {names[0]}, which none of its quotes names")
    negation = _negation_mismatch(text, quotes)
    if negation:
        return Verdict(False, negation)
    swapped = _swapped_roles(text, quotes)
    if swapped:
        return Verdict(False, swapped)
    words, *quote_words = words_of([text, *quotes])
    score, weakest = _coverage(words, [w for ws in quote_words for w in ws], idf, floor)
    if score < threshold:
        return Verdict(False, f"its words are not in its quotes (coverage {score:.2f})", score)
    if weakest is not None:
        return Verdict(
            False, f"“{text[weakest.start : weakest.end]}” is in none of its quotes", score
        )
    return Verdict(True, "", score)


# --- the rules ---------------------------------------------------------------------------


def _content(text: str) -> list[str]:
    return [w for w in (m.group().lower() for m in _WORD.finditer(text)) if w not in STOPWORDS]


def _quantities(text: str) -> set[str]:
    """Numbers, number words, ordinals and scales in ``text``, normalised ("42", "2nd")."""
    out = set()
    for match in _NUMBER.finditer(text):
        token = match.group().lower()
        if token[0].isdigit():
            ordinal = token[-2:] in ("st", "nd", "rd", "th")
            digits = token[:-2] if ordinal else token
            digits = re.sub(r",(?=\d{3}\b)", "", digits)
            out.add(digits + ("th" if ordinal else ""))
            continue
        parts = token.split("-")
        if all(p in _UNITS for p in parts):
            out.add(str(sum(_UNITS[p] for p in parts)))
        elif len(parts) == 2 and parts[0] in _UNITS and parts[1] in _ORDINALS:
            out.add(f"{_UNITS[parts[0]] + _ORDINALS[parts[1]]}th")
        elif token in _ORDINALS:
            out.add(f"{_ORDINALS[token]}th")
        elif token in _SCALES:
            out.add(token)
    return out


def _root(word: str) -> str:
    word = word.lower().replace("\u2019", "'").split("'")[0]
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def _unmatched_names(text: str, quotes: str) -> list[str]:
    """Capitalised words of ``text`` after its first word that ``quotes`` do not name."""
    quote_words = {m.group().lower() for m in _WORD.finditer(quotes)}
    roots = {_root(w) for w in quote_words}
    first = _WORD.search(text)
    out = []
    for match in _CAPITALISED.finditer(text):
        if first is not None and match.start() == first.start():
            continue
        for word in _WORD.findall(match.group()):
            lower = word.lower()
            stopword = lower in STOPWORDS and lower not in _MONTHS  # "May" is a month here
            if stopword or word[0].islower() or lower in quote_words:
                continue
            if not any(_same_root(_root(lower), r) for r in roots):
                out.append(word)
    return out


def _same_root(a: str, b: str) -> bool:
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


def _negation_mismatch(text: str, quotes: Sequence[str]) -> str:
    """Why the claim's negation does not match its quotes', or ""."""
    negated = bool(_NEGATION.search(text))
    quoted = [q for q in quotes if _NEGATION.search(q)]
    if negated and not quoted:
        return "is negated where none of its quotes is"
    if negated:
        return ""
    claim_words = set(_content(text))
    restricted = _RESTRICTORS.search(text)
    if restricted and not any(_RESTRICTORS.search(q) for q in quotes):
        return f"restricts (“{restricted.group()}”) where none of its quotes does"
    opposite = _opposite_word(claim_words, {w for q in quotes for w in _content(q)})
    if opposite:
        return opposite
    for quote in quoted:
        for match in _NEGATION.finditer(quote):
            after = _content(quote[match.end() :])[:2]
            if after and all(w in claim_words for w in after):
                return f"asserts what its quote negates (“{match.group()} {' '.join(after)}”)"
    return ""


def _opposite_word(claim_words: set[str], quote_words: set[str]) -> str:
    """Why a claim word is the negated form of a quote word or the reverse ("permissionless"
    against "permissioned", "unlimited" against "limited"), or "" (neither text has both)."""
    for word in sorted(claim_words - quote_words):
        for other in sorted(_opposites(word) & quote_words):
            return f"says “{word}” where its quote says “{other}”"
    for other in sorted(quote_words - claim_words):
        for word in sorted(_opposites(other) & claim_words):
            return f"says “{word}” where its quote says “{other}”"
    return ""


def _opposites(word: str) -> set[str]:
    out = set()
    if word.endswith("less") and len(word) > 7:
        base = word[:-4]
        out |= {base, base + "ed", base + "ful", base + "s"}
    for prefix in ("non", "un", "in", "im", "dis"):
        if word.startswith(prefix) and len(word) - len(prefix) >= 5:
            out.add(word[len(prefix) :].lstrip("-"))
    return out


def _coverage(
    words: Sequence[Word], evidence: Sequence[Word], idf: Callable[[str], float], floor: float
) -> tuple[float, Word | None]:
    """IDF-weighted coverage of ``words`` by ``evidence`` (stem 1, else best cosine), and
    the first word supported less than ``floor``, if any."""
    unique = {w.stem: w for w in reversed(words)}
    if not unique:
        return 1.0, None
    stems = {w.stem for w in evidence}
    vectors = [w.vector for w in evidence if w.vector is not None]
    matrix = np.stack(vectors) if vectors else None
    total = covered = 0.0
    weakest: Word | None = None
    for word in sorted(unique.values(), key=lambda w: w.start):
        weight = idf(word.stem)
        total += weight
        if word.stem in stems:
            support = 1.0
        elif word.vector is not None and matrix is not None:
            support = max(0.0, float((matrix @ word.vector).max()))
        else:
            support = 0.0
        covered += weight * support
        if support < floor and weakest is None:
            weakest = word
    return covered / total if total else 1.0, weakest


# --- who did what to whom ------------------------------------------------------------

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
    text = _MARKERS.sub("", text)  # a citation "[16]" is not a clause
    text = _ASIDE.sub(" ", text)  # nor is a short aside ", under the agreement,"
    for piece in _CLAUSE_BREAK.split(text):
        words = _TOKEN.findall(piece)
        if not words:
            continue
        stems = stem([w.lower() for w in words])
        tokens = [_Token(w, s, _root(w)) for w, s in zip(words, stems)]
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
    return a.key == b.key or _same_root(a.root, b.root)


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


def _swapped_roles(text: str, quotes: Sequence[str]) -> str:
    """Why the claim swaps who does what to whom in its quotes, or "".

    Reversed: two actors of a clause of the claim (:func:`_anchors`) stand in the
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
