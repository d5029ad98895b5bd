"""The answering order: which fused candidates an answer cites first."""

from __future__ import annotations

from footnotes.index.rerank import LEADING, SECOND_READING_MARGIN, answering_order
from footnotes.index.retrieve import Retrieval
from footnotes.index.store import SentenceHit


def _hit(i: int, text: str, dense: float, section: str | None = None) -> SentenceHit:
    return SentenceHit(
        f"s{i}", "doc", "p", i, "Doc", section, None, 0, len(text), text, dense=dense
    )


def _idf(stem: str) -> float:
    return 1.0


def _order(
    question: str,
    hits: list[SentenceHit],
    named: frozenset[str] = frozenset(),
    preceding: dict[str, SentenceHit] | None = None,
) -> list[SentenceHit]:
    """The answering order of hand-built fused ``hits``, every word weighing alike."""
    retrieval = Retrieval(hits, _idf, {}, named=named, preceding=preceding or {})
    return answering_order(question, retrieval)


def test_the_sentence_stating_the_question_moves_first_and_the_rest_keep_fused_order() -> None:
    question = "How often is the key function called for each record?"
    fused = [
        _hit(0, "Records are sorted in place.", 0.40),
        _hit(1, "A key function may be any callable.", 0.45),
        _hit(2, "Unrelated words about sorting stability.", 0.30),
        _hit(3, "The key function is called exactly once for each record.", 0.55),
        _hit(4, "Key functions are also used by min and max.", 0.35),
    ]
    ordered = _order(question, fused)
    assert ordered[0].id == "s3"
    assert len(ordered) == len(fused) and {h.id for h in ordered} == {h.id for h in fused}
    # Only the LEADING best move; everything after them is in fused order.
    rest = [h.id for h in ordered[LEADING:]]
    assert rest == [h.id for h in fused if h.id in rest]


def test_a_sections_heading_counts_toward_what_a_sentence_states() -> None:
    question = "Who is the author of the regular expression guide?"
    fused = [
        _hit(0, "The author of this guide thanks the readers.", 0.40, "Sorting guide"),
        _hit(1, "The author: A. Writer.", 0.40, "Regular expression guide"),
    ]
    assert _order(question, fused)[0].id == "s1"
    assert _order(question, []) == []


def test_a_sentence_that_points_back_is_read_with_the_one_before_it() -> None:
    question = "Which option turns off the automatic remapping?"
    before = _hit(0, "But now the pickler will automatically remap the old names.", 0.75)
    answer = _hit(
        1,
        "This remapping is turned on by default but can be turned off with the fix_imports option.",
        0.5,
    )
    fused = [before, answer]
    # Alone, the answer states as much of the question as the sentence before it does.
    assert _order(question, fused)[0].id == "s0"
    assert _order(question, fused, preceding={"s1": before})[0].id == "s1"
    # A sentence that does not open by pointing back is read alone.
    plain = _hit(1, answer.text.replace("This remapping", "Remapping"), 0.5)
    assert _order(question, [before, plain], preceding={"s1": before})[0].id == "s0"


def test_a_named_documents_title_counts_toward_what_its_sentences_state() -> None:
    question = "Who is the author of the Widget Guide?"
    other = SentenceHit(
        "o",
        "other",
        "p2",
        0,
        "Gadget notes",
        None,
        None,
        0,
        9,
        "The widget guide is printed in blue.",
        dense=0.5,
    )
    field = SentenceHit(
        "f", "guide", "p1", 0, "Widget Guide", None, None, 0, 9, ":Author: Jane Moreau", dense=0.3
    )
    assert _order(question, [other, field])[0].id == "o"
    assert _order(question, [other, field], named=frozenset({"guide"}))[0].id == "f"


def test_a_candidate_near_the_best_counts_its_cosine_read_with_title_and_heading() -> None:
    question = "How long is the refund window?"
    fused = [
        _hit(0, "Shipping takes three working days.", 0.50),
        _hit(1, "The default is 30 days.", 0.45, "Returns"),
        _hit(2, "Our office is closed at weekends.", 0.50 - SECOND_READING_MARGIN - 0.4),
    ]
    asked: list[str] = []

    def second_reading(hits: list[SentenceHit]) -> list[float]:
        asked.extend(h.id for h in hits)
        return [{"s0": 0.30, "s1": 0.80, "s2": 0.90}[h.id] for h in hits]

    # Neither sentence states the question's words; what read alone is 0.05 short of
    # the shipping sentence is 0.30 ahead read with its heading.
    retrieval = Retrieval(fused, _idf, {}, second_reading=second_reading)
    assert answering_order(question, retrieval)[0].id == "s1"
    # Far below the best, a candidate is not encoded again; a cosine read in context
    # below the sentence's own never lowers it.
    assert sorted(asked) == ["s0", "s1"]
    plain = Retrieval(fused, _idf, {}, second_reading=lambda hits: [0.0 for _ in hits])
    assert [h.id for h in answering_order(question, plain)] == [
        h.id for h in answering_order(question, Retrieval(fused, _idf, {}))
    ]
