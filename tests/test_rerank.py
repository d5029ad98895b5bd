"""The answering order: which fused candidates an answer cites first."""

from __future__ import annotations

from footnotes.index.rerank import LEADING, answering_order
from footnotes.index.store import SentenceHit


def _hit(i: int, text: str, dense: float, section: str | None = None) -> SentenceHit:
    return SentenceHit(
        f"s{i}", "doc", "p", i, "Doc", section, None, 0, len(text), text, dense=dense
    )


def _idf(stem: str) -> float:
    return 1.0


def test_the_sentence_stating_the_question_moves_first_and_the_rest_keep_fused_order() -> None:
    question = "How often is the key function called for each record?"
    fused = [
        _hit(0, "Records are sorted in place.", 0.40),
        _hit(1, "A key function may be any callable.", 0.45),
        _hit(2, "Unrelated words about sorting stability.", 0.30),
        _hit(3, "The key function is called exactly once for each record.", 0.55),
        _hit(4, "Key functions are also used by min and max.", 0.35),
    ]
    ordered = answering_order(question, fused, _idf)
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
    assert answering_order(question, fused, _idf)[0].id == "s1"
    assert answering_order(question, [], _idf) == []


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
    assert answering_order(question, fused, _idf)[0].id == "s0"
    assert answering_order(question, fused, _idf, preceding={"s1": before})[0].id == "s1"
    # A sentence that does not open by pointing back is read alone.
    plain = _hit(1, answer.text.replace("This remapping", "Remapping"), 0.5)
    assert answering_order(question, [before, plain], _idf, preceding={"s1": before})[0].id == "s0"


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
    assert answering_order(question, [other, field], _idf)[0].id == "o"
    assert answering_order(question, [other, field], _idf, named=frozenset({"guide"}))[0].id == "f"
