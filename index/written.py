"""An answer a language model wrote, checked sentence by sentence, as an :class:`Answer`.

Hand-written because no well-kept library does this: llama-index's
``CitationQueryEngine`` trusts the model's ``[n]``; here every sentence the
model wrote is checked against the quotes it cites (:mod:`index.verify`), an
unsupported one is dropped (or flagged, ``FOOTNOTES_LLM_UNSUPPORTED=flag``),
and the citations left are the evidence sentences the shown sentences cite,
renumbered in order of first use, each with its exact offsets. An answer
with no supported sentence, or one where the model says the documents do
not say, is an abstention, as the extractive answer's is.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from footnotes.index.answer import Answer, Citation, Sentence, abstention, display, joined
from footnotes.index.coverage import WordsOf
from footnotes.index.llm import ModelFailed
from footnotes.index.verify import Claim, claims, verify

_DOES_NOT_SAY = re.compile(
    r"\b(?:documents?|evidence|sources?|texts?|passages?|context)\b[^.]{0,40}?\b"
    r"(?:do(?:es)?\s+not|don[\u2019']t|doesn[\u2019']t|never)\s+"
    r"(?:say|state|mention|contain|answer|specify|cover|include|provide|tell)"
    r"|\bnot\s+(?:stated|mentioned|given|answered|covered)\s+in\s+the\s+"
    r"(?:documents?|evidence|sources?)"
    r"|^\s*(?:i\s+)?(?:do\s+not|don[\u2019']t|cannot|can[\u2019']t)\s+know\b"
    r"|\bno\s+information\s+(?:about|on)\b",
    re.IGNORECASE,
)
NO_SUPPORT = "none of the sentences the language model wrote is supported by the quotes it cites"


def says_not_in_documents(text: str) -> bool:
    """Whether a sentence says the documents do not answer (the prompt's abstention)."""
    return bool(_DOES_NOT_SAY.search(text))


def written_answer(
    question: str,
    text: str,
    evidence: list[Citation],
    words_of: WordsOf,
    idf: Callable[[str], float],
    flag: bool = False,
) -> Answer:
    """The checked answer from the model's ``text``, written from ``evidence`` ([1]..[n]).

    Raises :class:`ModelFailed` for a reply with no words. ``flag`` keeps unsupported
    sentences, marked, instead of dropping them.
    """
    if not text.strip():
        raise ModelFailed("empty reply")
    quotes = {c.n: display(c.quote, c.format) for c in evidence}
    said = [c for c in claims(text) if c.text]
    if not said:
        raise ModelFailed("a reply with no sentence in it")
    stated = [c for c in said if not says_not_in_documents(c.text)]
    related = [replace(c, n=i) for i, c in enumerate(evidence[:3], 1)]
    if not stated:
        return Answer(question, abstention(question), False, [], related, mode="llm")
    verdicts = [verify(c, quotes, words_of, idf) for c in stated]
    by_old = {c.n: c for c in evidence}
    numbers: dict[int, int] = {}
    sentences: list[Sentence] = []
    for claim, verdict in zip(stated, verdicts):
        if not verdict.supported and not flag:
            sentences.append(
                Sentence(claim.text, [], False, _why(claim, verdict.reason), dropped=True)
            )
            continue
        cited = [numbers.setdefault(n, len(numbers) + 1) for n in claim.markers if n in by_old]
        reason = None if verdict.supported else _why(claim, verdict.reason)
        sentences.append(Sentence(claim.text, cited, verdict.supported, reason))
    if not any(s.supported for s in sentences):
        return Answer(
            question, abstention(question), False, [], related, mode="llm",
            notice=NO_SUPPORT, sentences=[replace(s, citations=[]) for s in sentences],
        )  # fmt: skip
    citations = [replace(by_old[old], n=new) for old, new in numbers.items()]
    return Answer(question, joined(sentences), True, citations, [], mode="llm", sentences=sentences)


def _why(claim: Claim, reason: str) -> str:
    cited = "".join(f"[{n}]" for n in claim.markers)
    return f"{reason} (it cited {cited})" if cited else reason
