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
* it swaps who does what to whom: it reverses two actors of a quote's clause,
  or puts an actor where a quote clause has another (:mod:`index.roles`, which
  says what those rules catch and what they cannot);
* its content words are not covered by the quotes: the IDF-weighted coverage
  is under :data:`SUPPORT_THRESHOLD`, or one of its words is supported by no
  quote word better than :data:`WORD_FLOOR` (an added claim, "a joint *gas*
  market", against a quote of an electricity market).

What it cannot catch: a capitalised name that opens the sentence (checked only
for meaning), a paraphrase that changes meaning with the same words ("could"
against "will"), a negation by other words ("means" against "does not imply"),
and an unsupported inference whose words all appear in the quotes.

Measured by ``benchmarks/verify.py`` (224 labelled claims; unsupported is the
positive class). Tuned on ``claims-tune*`` (71 on the sample article, 41 on the
Solana paper): 52 of 54 faithful claims passed (0.963), 53 of 58 corrupted ones
caught (recall 0.914), precision 0.964. Held out, written before any tuning and
run once after it (32 on the article, 40 on the paper, 40 on invented texts): 42
of 49 faithful passed (0.857), 57 of 63 corrupted caught (0.905), precision
0.891; per corpus, faithful passed / corrupted caught: article 12/15 and 12/17,
paper 15/18 and 21/22, invented 15/16 and 24/24. Before the actor, affix and
"only" rules the same held-out set gave 47/49 and 38/63 (what the actor rules
catch of it, and at what cost: :mod:`index.roles`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from footnotes.index.coverage import Word, WordsOf
from footnotes.index.lexical import STOPWORDS
from footnotes.index.roles import root, same_root, swapped_roles
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
        text = " ".join(without_markers(written).split())
        text = re.sub(r"\s+([.,;:!?])", r"\1", text)
        if text or markers:
            result.append(Claim(text, tuple(dict.fromkeys(markers)), written.strip()))
    return result


def without_markers(text: str) -> str:
    """``text`` with its markers ``[n]`` / ``[n, m]`` (and the space before each) removed."""
    return _MARKERS.sub("", text)


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
    # a citation "[16]" is not a clause
    swapped = swapped_roles(without_markers(text), [without_markers(q) for q in quotes])
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


def _unmatched_names(text: str, quotes: str) -> list[str]:
    """Capitalised words of ``text`` after its first word that ``quotes`` do not name."""
    quote_words = {m.group().lower() for m in _WORD.finditer(quotes)}
    roots = {root(w) for w in quote_words}
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
            if not any(same_root(root(lower), r) for r in roots):
                out.append(word)
    return out


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
